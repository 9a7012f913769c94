/**
 * What a site is answered: the base model's log-odds, then that site's calibration. The
 * default site uses the artifact's calibration.json (fitted on the default site's feedback
 * only); every other site uses its own entry of site-calibrations.json, and a site without
 * one is answered by the base model uncalibrated. Predict and everything that judges served
 * answers (the approval check, the bench) go through here, so the answers judged are the
 * answers patients get.
 */
import { DEFAULT_SITE, siteNameProblem } from "../sites/site-name.js";
import type { PipelineParams } from "./feature-pipeline.js";
import { CALIBRATION_BOUNDS, IDENTITY_CALIBRATION, type OutputCalibration } from "./output-calibration.js";
import { createScorer, type Scorer } from "./scorer.js";
import type { SiteCalibration } from "./site-calibration.js";
import type { LogisticWeights } from "./trainer.js";

/** The artifact file holding every non-default site's calibration. */
export const SITE_CALIBRATIONS_FILE = "site-calibrations.json";

/** site-calibrations.json: the calibrations and the evidence behind each. */
export interface SiteCalibrationsFile {
  readonly formatVersion: 1;
  readonly sites: readonly SiteCalibration[];
}

/** A model version's calibrations by site, the default site's included. */
export interface SiteCalibrations {
  readonly defaultSite: OutputCalibration;
  readonly sites: ReadonlyMap<string, OutputCalibration>;
}

/** A model version as it is served: base model plus calibrations, and its decision threshold. */
export interface ServedModel {
  readonly pipeline: PipelineParams;
  readonly weights: LogisticWeights;
  readonly calibrations: SiteCalibrations;
  readonly threshold: number;
}

/** The calibration `site` is answered with. */
export function calibrationForSite(calibrations: SiteCalibrations, site: string): OutputCalibration {
  if (site === DEFAULT_SITE) return calibrations.defaultSite;
  return calibrations.sites.get(site) ?? IDENTITY_CALIBRATION;
}

/** Every site with a calibration of its own, the default site first. */
export function servedSites(calibrations: SiteCalibrations): string[] {
  return [DEFAULT_SITE, ...[...calibrations.sites.keys()].sort()];
}

/**
 * The probability `model` serves at `site` for the raw feature vector at
 * vectors[offset .. offset + FEATURE_COUNT). For many rows, build servedScorer once.
 */
export function servedProbability(
  model: ServedModel,
  site: string,
  vectors: Float64Array,
  offset = 0,
): number {
  return servedScorer(model, site).score(vectors, offset);
}

/** A scorer answering exactly as `model` does at `site` (the calibration folded into the weights). */
export function servedScorer(model: ServedModel, site: string): Scorer {
  return createScorer(model.pipeline, model.weights, calibrationForSite(model.calibrations, site));
}

/** The calibrations map of a parsed site-calibrations.json plus the default site's calibration. */
export function siteCalibrationsOf(
  defaultSite: OutputCalibration,
  file: SiteCalibrationsFile | undefined,
): SiteCalibrations {
  const sites = new Map<string, OutputCalibration>();
  for (const entry of file?.sites ?? []) {
    if (entry.method === "keep") continue;
    sites.set(entry.site, { slope: entry.slope, intercept: entry.intercept });
  }
  return { defaultSite, sites };
}

/** Parses and checks site-calibrations.json; every failure names the entry and field. */
export function parseSiteCalibrationsFile(json: unknown): SiteCalibrationsFile {
  const fail = (what: string): never => {
    throw new Error(`${SITE_CALIBRATIONS_FILE}: ${what}`);
  };
  if (typeof json !== "object" || json === null) return fail("expected a JSON object");
  const r = json as Record<string, unknown>;
  if (r["formatVersion"] !== 1) fail(`formatVersion is ${String(r["formatVersion"])}; expected 1`);
  const list = r["sites"];
  if (!Array.isArray(list)) return fail("sites must be an array");
  const seen = new Set<string>();
  const sites = list.map((raw: unknown, i): SiteCalibration => {
    if (typeof raw !== "object" || raw === null) return fail(`sites[${i}] must be an object`);
    const entry = raw as Record<string, unknown>;
    const site = entry["site"];
    if (typeof site !== "string" || siteNameProblem(site) !== undefined || site === DEFAULT_SITE)
      fail(`sites[${i}].site is not a valid non-default site name`);
    if (seen.has(site as string)) fail(`sites[${i}].site ${String(site)} appears twice`);
    seen.add(site as string);
    const method = entry["method"];
    if (method !== "keep" && method !== "intercept" && method !== "intercept-and-slope")
      fail(`sites[${i}].method must be keep, intercept or intercept-and-slope`);
    const slope = entry["slope"];
    const intercept = entry["intercept"];
    const { minSlope, maxSlope, maxAbsIntercept } = CALIBRATION_BOUNDS;
    if (typeof slope !== "number" || !(slope >= minSlope && slope <= maxSlope))
      fail(`sites[${i}].slope must be a number from ${minSlope} to ${maxSlope}`);
    if (typeof intercept !== "number" || !(Math.abs(intercept) <= maxAbsIntercept))
      fail(`sites[${i}].intercept must be a number within ±${maxAbsIntercept}`);
    // The evidence fields are reported, not served: kept as written (JSON has no NaN; null reads as NaN).
    return JSON.parse(JSON.stringify(raw), (_key, value: unknown) =>
      value === null ? Number.NaN : value,
    ) as SiteCalibration;
  });
  return { formatVersion: 1, sites };
}
