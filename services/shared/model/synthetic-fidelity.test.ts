/**
 * The synthetic default must be a fair stand-in for the real data: a model trained on it
 * scores a real holdout within 0.05 ROC AUC of a model trained on real rows.
 */
import { describe, expect, it } from "vitest";
import { loadLpdCsv } from "../data/lpd-csv-loader.js";
import { LPD_ROW_COUNT, generateSyntheticDataset } from "../data/synthetic-dataset.js";
import { REAL_CSV_PATH, haveRealCsv } from "../testing/real-dataset.js";
import { createScorer } from "./scorer.js";
import { rocAuc } from "./metrics.js";
import { runTrainingPipeline } from "./training-pipeline.js";
import { FEATURE_COUNT } from "../features/feature-schema.js";

describe.skipIf(!haveRealCsv)("synthetic default vs real data (needs ../shared/data/)", () => {
  it("a model trained on synthetic rows scores the real holdout within 0.05 AUC of one trained on real rows", async () => {
    const { dataset: real } = await loadLpdCsv(REAL_CSV_PATH);
    const onReal = await runTrainingPipeline({ original: real });

    const synthetic = generateSyntheticDataset(LPD_ROW_COUNT, 7);
    const onSynthetic = await runTrainingPipeline({ original: synthetic });

    // Score the REAL holdout with the synthetic-trained model's own serving scorer.
    const holdout = onReal.holdout;
    const scorer = createScorer(onSynthetic.pipeline, onSynthetic.weights);
    const probabilities = new Float64Array(holdout.rows);
    for (let row = 0; row < holdout.rows; row++) {
      probabilities[row] = scorer.score(holdout.features, row * FEATURE_COUNT);
    }
    const syntheticAuc = rocAuc(holdout.labels, probabilities);

    console.log(
      `real-trained AUC ${onReal.metrics.holdout.rocAuc.toFixed(4)}, synthetic-trained AUC on the real holdout ${syntheticAuc.toFixed(4)}`,
    );
    expect(onReal.metrics.holdout.rocAuc).toBeGreaterThan(0.755);
    expect(Math.abs(syntheticAuc - onReal.metrics.holdout.rocAuc)).toBeLessThanOrEqual(0.05);
  });
});
