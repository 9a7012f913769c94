import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FEATURE_COUNT, FEATURES } from "../features/feature-schema.js";
import { allocateDataset, type Dataset } from "../data/dataset.js";
import { loadLpdCsv } from "../data/lpd-csv-loader.js";
import { selectRows } from "./holdout-split.js";
import { readArtifactDir } from "./model-artifact.js";
import { getTfBackend, type TfBackend } from "./tf-backend.js";
import { runTrainingPipeline } from "./training-pipeline.js";
import { REAL_CSV_PATH, haveRealCsv } from "../testing/real-dataset.js";
import { Prng } from "../data/prng.js";

/** Rows in the schema's ranges whose label follows a logistic model of bilirubin and age. */
function labelledRows(rows: number, seed: number): Dataset {
  const random = new Prng(seed);
  const dataset = allocateDataset(rows, "synthetic");
  for (let row = 0; row < rows; row++) {
    FEATURES.forEach((spec, i) => {
      dataset.features[row * FEATURE_COUNT + i] =
        spec.kind === "gender"
          ? random.nextFloat() < 0.7
            ? 1
            : 0
          : Math.round((1 + random.nextFloat() * 60) * 10) / 10;
    });
    const bilirubin = dataset.features[row * FEATURE_COUNT + 2] ?? 0;
    const age = dataset.features[row * FEATURE_COUNT] ?? 0;
    const z = 1.5 * (Math.log1p(bilirubin) - 3) + 0.03 * (age - 30) + 0.8;
    dataset.labels[row] = random.nextFloat() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return dataset;
}

describe("runTrainingPipeline", () => {
  let backend: TfBackend;
  let root: string;
  const original = labelledRows(4000, 21);
  beforeAll(async () => {
    backend = await getTfBackend({ info: () => undefined });
    root = await mkdtemp(path.join(tmpdir(), "pipeline-test-"));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("splits, trains, evaluates and writes a readable artifact, timing each stage", async () => {
    const before = backend.tf.memory().numTensors;
    const progress: number[] = [];
    const result = await runTrainingPipeline({
      original,
      backend,
      onProgress: (p) => progress.push(p.step),
      artifact: { version: "v1", parentDir: root },
    });
    expect(backend.tf.memory().numTensors).toBe(before);
    expect(result.backend).toBe("wasm");
    expect(result.metrics.holdout.rocAuc).toBeGreaterThan(0.75);
    expect(result.metrics.holdout.rows).toBe(result.split.holdoutRows);
    expect(result.metrics.training.converged).toBe(true);
    expect(progress.length).toBe(result.metrics.training.iterations);
    expect(result.rowCounts).toEqual({
      originalRows: 4000,
      uniqueRows: result.split.uniqueRows,
      duplicatesRemoved: 4000 - result.split.uniqueRows,
      trainRows: result.split.trainRows,
      holdoutRows: result.split.holdoutRows,
      feedbackRows: 0,
      feedbackRowsDropped: 0,
    });
    for (const stage of [
      "split",
      "fitPipeline",
      "train",
      "evaluate",
      "buildArtifact",
      "writeArtifact",
    ] as const) {
      expect(result.timingsMs[stage]).toBeGreaterThan(0);
    }
    expect(result.timingsMs.total).toBeGreaterThanOrEqual(result.timingsMs.train);
    const dir = result.artifact?.dir ?? "";
    expect(dir).toBe(path.join(root, "v1"));
    const loaded = await readArtifactDir(dir);
    expect(loaded.manifestSha256).toBe(result.artifact?.manifestSha256);
    expect(loaded.manifest.dataSource).toBe("synthetic");
    expect(loaded.manifest.tfBackend).toBe("wasm");
    expect(loaded.metrics).toEqual(result.metrics);
    expect(Array.from(loaded.weights.kernel)).toEqual(Array.from(result.weights.kernel));
    expect(loaded.manifest.holdoutFingerprint).toBe(result.split.holdoutFingerprint);
  });

  it("gives the same model whatever the order of the original rows", async () => {
    const a = await runTrainingPipeline({ original, backend });
    const order = Array.from({ length: original.rows }, (_, i) => (i * 7919) % original.rows);
    const b = await runTrainingPipeline({ original: selectRows(original, order), backend });
    expect(b.split.holdoutFingerprint).toBe(a.split.holdoutFingerprint);
    expect(Array.from(b.weights.kernel)).toEqual(Array.from(a.weights.kernel));
    expect(b.metrics).toEqual(a.metrics);
  });

  it("adds feedback to training only, never to the holdout", async () => {
    const plain = await runTrainingPipeline({ original, backend });
    const extra = labelledRows(300, 99);
    // One feedback row repeats a holdout patient: it must not train.
    const feedback = selectRows(
      {
        rows: extra.rows + plain.holdout.rows,
        features: Float64Array.from([...extra.features, ...plain.holdout.features]),
        labels: Uint8Array.from([...extra.labels, ...plain.holdout.labels]),
        source: "synthetic",
      },
      [...Array.from({ length: extra.rows }, (_, i) => i), extra.rows + 5],
    );
    const withFeedback = await runTrainingPipeline({
      original,
      feedback,
      backend,
      artifact: { version: "v2" },
    });
    expect(withFeedback.split.holdoutFingerprint).toBe(plain.split.holdoutFingerprint);
    expect(withFeedback.metrics.holdout.rows).toBe(plain.metrics.holdout.rows);
    expect(withFeedback.rowCounts.feedbackRowsDropped).toBe(1);
    expect(withFeedback.rowCounts.feedbackRows).toBe(300);
    expect(withFeedback.rowCounts.trainRows).toBe(plain.rowCounts.trainRows + 300);
    expect(withFeedback.metrics.training.rows).toBe(plain.rowCounts.trainRows + 300);
    expect(Array.from(withFeedback.weights.kernel)).not.toEqual(Array.from(plain.weights.kernel));
    // Built in memory only: no folder without parentDir.
    expect(withFeedback.artifact?.dir).toBeUndefined();
    expect(withFeedback.timingsMs.writeArtifact).toBe(0);
    expect(await readdir(root)).not.toContain("v2");
  });

  it("cancels on abort without leaking tensors", async () => {
    const before = backend.tf.memory().numTensors;
    const controller = new AbortController();
    const run = runTrainingPipeline({
      original,
      backend,
      signal: controller.signal,
      onProgress: () => controller.abort(new Error("shutting down")),
    });
    await expect(run).rejects.toThrow("shutting down");
    expect(backend.tf.memory().numTensors).toBe(before);
  });

  it("says why it cannot gate when a class is missing from the holdout", async () => {
    const tiny = labelledRows(12, 3);
    tiny.labels.fill(1);
    tiny.labels[0] = 0;
    await expect(runTrainingPipeline({ original: tiny, backend })).rejects.toThrow(
      /the holdout has 2 liver-disease and 0 other rows; it needs both/,
    );
  });
});

describe.skipIf(!haveRealCsv)("runTrainingPipeline on the real LPD file", () => {
  it("scores the lab-profile holdout (whole profiles held out) honestly and well", async () => {
    const backend = await getTfBackend({ info: () => undefined });
    const { dataset } = await loadLpdCsv(REAL_CSV_PATH);
    const result = await runTrainingPipeline({ original: dataset, backend });
    expect(result.split.uniqueRows).toBe(16_389);
    expect(result.split.labProfiles).toBe(662);
    expect(result.split.holdoutLabProfiles).toBe(133);
    expect(result.rowCounts.trainRows).toBe(13_041);
    expect(result.rowCounts.holdoutRows).toBe(3_348);
    // scikit-learn's LogisticRegression scores 0.734-0.739 under 5-fold GroupKFold by profile.
    expect(result.metrics.holdout.rocAuc).toBeGreaterThanOrEqual(0.74);
    expect(result.metrics.holdout.accuracy).toBeGreaterThan(0.7);
    expect(result.metrics.holdout.logLoss).toBeLessThan(0.52);
    expect(result.metrics.training.converged).toBe(true);
  });
});
