/**
 * What a site is answered, for judging a candidate: a model version's probabilities and
 * predicted classes as Predict serves them to each site, after that site's calibration
 * (services/shared/model/served-answer.ts, the same code Predict answers with). Everything
 * that judges "served answers" (the approval check, the gate's served slice figures) goes
 * through here, so the answers judged are the answers patients get at every site.
 */
import type { Dataset } from "../shared/data/dataset.js";
import {
  servedScorer,
  servedSites as sitesOf,
  type ServedModel as SharedServedModel,
} from "../shared/model/served-answer.js";

export { DEFAULT_SITE } from "../shared/sites/site-name.js";

/** A model version as Predict serves it, with the name the evidence reports it by. */
export type ServedModel = SharedServedModel & { readonly modelVersion: string };

/**
 * Every site whose answers any of the given models serves: the default site and every site
 * one of them has a calibration for (a site only one version calibrates is answered by the
 * other one's base model there, so its change is judged too).
 */
export function servedSites(models: readonly (ServedModel | undefined)[]): string[] {
  const sites = new Set<string>();
  for (const model of models) {
    if (model !== undefined) for (const site of sitesOf(model.calibrations)) sites.add(site);
  }
  const [first, ...rest] = [...sites];
  return first === undefined ? [] : [first, ...rest.sort()];
}

/** The probability each row of `rows` is served at `site` by `model`. */
export function servedProbabilities(model: ServedModel, site: string, rows: Dataset): Float64Array {
  const out = new Float64Array(rows.rows);
  servedScorer(model, site).scoreBatch(rows.features, rows.rows, out);
  return out;
}

/** The predicted class of each row as served: true for liver disease. */
export function servedClasses(model: ServedModel, site: string, rows: Dataset): Uint8Array {
  const probabilities = servedProbabilities(model, site, rows);
  const out = new Uint8Array(rows.rows);
  for (let row = 0; row < rows.rows; row++) out[row] = (probabilities[row] ?? 0) >= model.threshold ? 1 : 0;
  return out;
}
