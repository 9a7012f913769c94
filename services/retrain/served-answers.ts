/**
 * What a site is answered: a model version's probabilities and predicted classes as Predict
 * serves them to that site, after the version's calibration. Everything that judges
 * "served answers" (the approval check, the gate's served slice figures) goes through
 * `servedProbabilities`, so the answers judged are the answers patients get.
 *
 * Today one calibration (the artifact's site recalibration) serves every caller, so the
 * deployment has one site, DEFAULT_SITE, and `servedSites` lists only it. Per-site
 * calibration replaces these two functions and nothing else.
 */
import type { Dataset } from "../shared/data/dataset.js";
import type { PipelineParams } from "../shared/model/feature-pipeline.js";
import type { OutputCalibration } from "../shared/model/output-calibration.js";
import { createScorer } from "../shared/model/scorer.js";
import type { LogisticWeights } from "../shared/model/trainer.js";

/** The site of callers that name none. */
export const DEFAULT_SITE = "default";

/** A model version as Predict serves it: base model, its calibration, its decision threshold. */
export interface ServedModel {
  readonly modelVersion: string;
  readonly pipeline: PipelineParams;
  readonly weights: LogisticWeights;
  /** The calibration the artifact serves with (the identity when it has none). */
  readonly calibration: OutputCalibration;
  /** A patient is predicted diseased when the served probability is >= this. */
  readonly threshold: number;
}

/**
 * Every site whose answers the given models serve (the sites any of them has a calibration
 * for, and the default site): today the default site only, since one calibration serves all.
 */
export function servedSites(_models: readonly ServedModel[]): string[] {
  return [DEFAULT_SITE];
}

/** The probability each row of `rows` is served at `site` by `model`. */
export function servedProbabilities(model: ServedModel, site: string, rows: Dataset): Float64Array {
  if (site !== DEFAULT_SITE) {
    throw new Error(
      `site ${site} has no calibration of its own; this deployment serves only ${DEFAULT_SITE}`,
    );
  }
  const out = new Float64Array(rows.rows);
  createScorer(model.pipeline, model.weights, model.calibration).scoreBatch(rows.features, rows.rows, out);
  return out;
}

/** The predicted class of each row as served: true for liver disease. */
export function servedClasses(model: ServedModel, site: string, rows: Dataset): Uint8Array {
  const probabilities = servedProbabilities(model, site, rows);
  const out = new Uint8Array(rows.rows);
  for (let row = 0; row < rows.rows; row++) out[row] = (probabilities[row] ?? 0) >= model.threshold ? 1 : 0;
  return out;
}
