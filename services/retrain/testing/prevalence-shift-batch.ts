/**
 * Feedback that moves a site's served answers the honest way, for the approval tests: verdicts
 * on made-up patients whose outcomes keep the serving model's ranking but claim another
 * prevalence (outcome drawn with probability sigmoid(served log-odds + shift)). The site's
 * calibration learns the shift (the closed test picks an intercept update), which is what
 * changes predicted classes; feedback that only contradicts the model in one direction is
 * absorbed by the per-site intercept of the base model and changes nothing a patient sees.
 */
import path from "node:path";
import { FeedbackVerdict } from "../../gen/liver/v1/retrain_service.js";
import type { PredictionRecord } from "../../shared/feedback/prediction-record.js";
import { readArtifactDir } from "../../shared/model/model-artifact.js";
import { servedScorer } from "../../shared/model/served-answer.js";
import { DEFAULT_SITE } from "../../shared/sites/site-name.js";
import { prediction, randomFeatures } from "./retrain-fixtures.js";

/** One verdict to send: the prediction as Predict made it and the clinician's verdict on it. */
export interface ShiftedVerdict {
  readonly record: PredictionRecord;
  readonly verdict: FeedbackVerdict;
}

/**
 * `count` verdicts on predictions `modelVersion` (read from `modelPath`) made for the default
 * site, with outcomes `shift` log-odds away from its answers (negative: a lower prevalence).
 */
export async function prevalenceShiftBatch(options: {
  readonly modelPath: string;
  readonly modelVersion: string;
  readonly count: number;
  readonly shift: number;
  readonly random: () => number;
  readonly principals: readonly string[];
}): Promise<ShiftedVerdict[]> {
  const loaded = await readArtifactDir(path.join(options.modelPath, options.modelVersion));
  const threshold = loaded.metrics.holdout.threshold;
  const scorer = servedScorer(
    { pipeline: loaded.pipeline, weights: loaded.weights, calibrations: loaded.siteCalibrations, threshold },
    DEFAULT_SITE,
  );
  const out: ShiftedVerdict[] = [];
  for (let i = 0; i < options.count; i++) {
    const features = randomFeatures(options.random);
    const probability = scorer.score(features);
    const logit = Math.log(probability) - Math.log1p(-probability);
    const sick = options.random() < 1 / (1 + Math.exp(-(logit + options.shift)));
    const predictedSick = probability >= threshold;
    out.push({
      record: prediction({
        modelVersion: options.modelVersion,
        features,
        probability,
        diagnosis: predictedSick ? 1 : 2,
        principal: options.principals[i % options.principals.length] ?? "",
      }),
      verdict:
        sick === predictedSick
          ? FeedbackVerdict.FEEDBACK_VERDICT_CORRECT
          : FeedbackVerdict.FEEDBACK_VERDICT_WRONG,
    });
  }
  return out;
}
