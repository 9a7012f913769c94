/**
 * The grouped holdout measures medicine, not memory: on the real file, a model that
 * memorises its training rows (1-nearest-neighbour) must not beat logistic regression on
 * the lab-profile holdout, while on a row-level split of the same unique rows it does
 * (the leak the grouped split closes).
 */
import { describe, expect, it } from "vitest";
import { FEATURE_COUNT } from "../features/feature-schema.js";
import type { Dataset } from "../data/dataset.js";
import { loadLpdCsv } from "../data/lpd-csv-loader.js";
import { haveRealCsv, REAL_CSV_PATH } from "../testing/real-dataset.js";
import { fitFeaturePipeline, transformRows } from "./feature-pipeline.js";
import { selectRows, splitHoldout } from "./holdout-split.js";
import { rocAuc } from "./metrics.js";
import { runTrainingPipeline } from "./training-pipeline.js";

/** 1-NN scores: the label of the nearest training row in the pipeline's standardized space. */
function nearestNeighbourScores(train: Dataset, test: Dataset): Float64Array {
  const pipeline = fitFeaturePipeline(train);
  const a = new Float64Array(train.rows * FEATURE_COUNT);
  const b = new Float64Array(test.rows * FEATURE_COUNT);
  transformRows(pipeline, train, a);
  transformRows(pipeline, test, b);
  const scores = new Float64Array(test.rows);
  for (let i = 0; i < test.rows; i++) {
    let best = Number.POSITIVE_INFINITY;
    let label = 0;
    for (let j = 0; j < train.rows; j++) {
      let d = 0;
      for (let k = 0; k < FEATURE_COUNT; k++) {
        const diff = (b[i * FEATURE_COUNT + k] ?? 0) - (a[j * FEATURE_COUNT + k] ?? 0);
        d += diff * diff;
      }
      if (d < best) {
        best = d;
        label = train.labels[j] ?? 0;
      }
    }
    scores[i] = label;
  }
  return scores;
}

describe.skipIf(!haveRealCsv)("the lab-profile holdout on the real file", () => {
  it("gives a memorising model no edge over logistic regression, unlike a row-level split", async () => {
    const { dataset } = await loadLpdCsv(REAL_CSV_PATH);
    const split = splitHoldout(dataset);
    expect(split.report.labProfiles).toBe(662);

    const lr = await runTrainingPipeline({ original: dataset });
    const lrAuc = lr.metrics.holdout.rocAuc;
    // Every 6th holdout row keeps the O(n²) search to a few seconds.
    const sample = (ds: Dataset): Dataset =>
      selectRows(
        ds,
        Array.from({ length: Math.ceil(ds.rows / 6) }, (_, i) => i * 6),
      );
    const probe = sample(split.holdout);
    const knnAuc = rocAuc(probe.labels, nearestNeighbourScores(split.train, probe));
    expect(knnAuc).toBeLessThanOrEqual(lrAuc);

    // The same unique rows split row by row (every fifth row held out): 1-NN finds the
    // holdout row's lab profile in training with another age and scores far above LR.
    const features = new Float64Array(split.train.features.length + split.holdout.features.length);
    features.set(split.train.features);
    features.set(split.holdout.features, split.train.features.length);
    const labels = new Uint8Array(split.train.rows + split.holdout.rows);
    labels.set(split.train.labels);
    labels.set(split.holdout.labels, split.train.rows);
    const all: Dataset = { rows: labels.length, features, labels, source: "real" };
    const rowsOf = (keep: (i: number) => boolean): number[] =>
      Array.from({ length: all.rows }, (_, i) => i).filter(keep);
    const leakyTrain = selectRows(
      all,
      rowsOf((i) => i % 5 !== 0),
    );
    const leakyTest = selectRows(
      all,
      rowsOf((i) => i % 5 === 0),
    );
    const leakyKnnAuc = rocAuc(leakyTest.labels, nearestNeighbourScores(leakyTrain, leakyTest));
    expect(leakyKnnAuc).toBeGreaterThan(lrAuc + 0.05);
  }, 600_000);
});
