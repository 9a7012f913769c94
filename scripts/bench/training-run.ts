/**
 * One full training run in a fresh process, for figures that must not be skewed by what
 * ran before in the bench process (peak RSS above all). Prints one JSON line:
 * { rows, totalMs, generateMs, pipelineMs, maxRssMiB, auc }.
 *
 * Usage: tsx scripts/bench/training-run.ts <synthetic rows>
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { generateSyntheticDataset } from "../../services/shared/data/synthetic-dataset.js";
import { runTrainingPipeline } from "../../services/shared/model/training-pipeline.js";
import { getTfBackend } from "../../services/shared/model/tf-backend.js";

const rows = Number(process.argv[2]);
if (!Number.isInteger(rows) || rows < 100) {
  console.error("usage: training-run.ts <synthetic rows, at least 100>");
  process.exit(2);
}
await getTfBackend({ info: () => undefined });
const dir = mkdtempSync(path.join(tmpdir(), "liver-bench-train-"));
try {
  const started = performance.now();
  const dataset = generateSyntheticDataset(rows, 1);
  const generated = performance.now();
  const result = await runTrainingPipeline({
    original: dataset,
    artifact: { version: "v1", parentDir: dir },
  });
  const finished = performance.now();
  console.log(
    JSON.stringify({
      rows,
      generateMs: generated - started,
      pipelineMs: finished - generated,
      totalMs: finished - started,
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
      auc: result.metrics.holdout.rocAuc,
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
