/**
 * Bench section: full training, load to written artifact, on the real file and on
 * synthetic data of 30k, 300k and 1M rows (issue 2's targets).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { loadLpdCsv } from "../../services/shared/data/lpd-csv-loader.js";
import { runTrainingPipeline } from "../../services/shared/model/training-pipeline.js";
import { getTfBackend } from "../../services/shared/model/tf-backend.js";
import { REAL_CSV_PATH, haveRealCsv } from "../../services/shared/testing/real-dataset.js";
import type { BenchContext, BenchSection } from "./bench-harness.js";

export const order = 10;

const runScript = path.join(path.dirname(fileURLToPath(import.meta.url)), "training-run.ts");

interface RunFigures {
  readonly rows: number;
  readonly pipelineMs: number;
  readonly totalMs: number;
  readonly generateMs: number;
  readonly maxRssMiB: number;
  readonly auc: number;
}

async function runInChild(rows: number): Promise<RunFigures> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", runScript, String(rows)],
    {
      maxBuffer: 1 << 20,
      env: { ...process.env, LOG_LEVEL: "silent" },
    },
  );
  const line = stdout.trim().split("\n").at(-1) ?? "";
  return JSON.parse(line) as RunFigures;
}

async function realFile(context: BenchContext): Promise<void> {
  if (!haveRealCsv) {
    context.note(`real file not found at ${REAL_CSV_PATH}: skipped (set LPD_CSV)`);
    return;
  }
  const backend = await getTfBackend({ info: () => undefined });
  context.note(`tfjs backend: ${backend.name}; real file: ${REAL_CSV_PATH}`);
  const dir = mkdtempSync(path.join(tmpdir(), "liver-bench-real-"));
  let version = 0;
  let auc = 0;
  try {
    await context.time(
      "real file: load CSV -> split -> train -> evaluate -> write artifact",
      async () => {
        version += 1;
        const { dataset } = await loadLpdCsv(REAL_CSV_PATH);
        const result = await runTrainingPipeline({
          original: dataset,
          backend,
          artifact: { version: `v${version}`, parentDir: dir },
        });
        auc = result.metrics.holdout.rocAuc;
      },
      { runs: Math.max(context.runs, 5), target: { op: "<=", bound: 300, text: "<= 300 ms" } },
    );
    context.record({
      name: "real file: holdout ROC AUC (dedup, stratified 80/20)",
      unit: "",
      samples: [auc],
      target: ">= 0.755",
      met: auc >= 0.755,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function synthetic(context: BenchContext): Promise<void> {
  const sizes = [30_000, 300_000, 1_000_000];
  const perRowUs = new Map<number, number>();
  for (const rows of sizes) {
    const runs = rows >= 1_000_000 ? Math.min(context.runs, context.quick ? 1 : 3) : context.runs;
    const results: RunFigures[] = [];
    for (let i = 0; i < runs; i++) results.push(await runInChild(rows));
    const label = `${(rows / 1000).toLocaleString("en-US")}k synthetic rows`;
    const pipeline = context.record({
      name: `${label}: split -> train -> evaluate -> write (fresh process)`,
      unit: "ms",
      samples: results.map((r) => r.pipelineMs),
      ...(rows === 1_000_000
        ? { target: "<= 10,000 ms", met: median(results.map((r) => r.pipelineMs)) <= 10_000 }
        : {}),
    });
    context.record({
      name: `${label}: generating the rows`,
      unit: "ms",
      samples: results.map((r) => r.generateMs),
    });
    const rss = results.map((r) => r.maxRssMiB);
    context.record({
      name: `${label}: peak RSS of the whole process`,
      unit: "MiB",
      samples: rss,
      ...(rows === 1_000_000 ? { target: "<= 1024 MiB", met: Math.max(...rss) <= 1024 } : {}),
    });
    perRowUs.set(rows, (pipeline.median * 1000) / rows);
  }
  const small = perRowUs.get(30_000) ?? Number.NaN;
  const large = perRowUs.get(1_000_000) ?? Number.NaN;
  context.note(
    `time per row: 30k ${small.toFixed(2)} us, 300k ${(perRowUs.get(300_000) ?? Number.NaN).toFixed(2)} us, 1M ${large.toFixed(2)} us ` +
      `(1M / 30k per-row cost = ${(large / small).toFixed(2)}; 1.0 is perfectly linear, below 1 means fixed costs dominate small runs)`,
  );
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

export const section: BenchSection = {
  title: "Training (issue 2): full pipeline on the real file and on synthetic data",
  async run(context) {
    await realFile(context);
    await synthetic(context);
  },
};
