/**
 * The base model learns what sites share, not their prevalence: each site's labelled
 * feedback is resampled by class (case-control style) so that its liver-disease share is
 * what the reference model expects for those same patients. For a logistic model, sampling
 * on the outcome changes only the intercept (Prentice & Pyke 1979), so this is the
 * stratified, per-site-intercept fit in data form: a site's prevalence is absorbed by its
 * own intercept, which its calibration then estimates (site-calibration.ts), and one site's
 * prevalence never moves the base model, the other sites' answers, or the slice rules.
 */
import { FEATURE_COUNT } from "../shared/features/feature-schema.js";
import type { Scorer } from "../shared/model/scorer.js";
import { DEFAULT_SITE } from "../shared/sites/site-name.js";
import type { LabelledRows } from "./store/feedback-store.js";

/**
 * The rows kept: per site, every row of the under-represented class and an evenly spaced
 * subset of the other, so that the site's positives / rows match the reference's expected
 * share. Deterministic (no randomness: the same feedback gives the same candidate).
 */
export function siteInterceptRows(rows: LabelledRows, reference: Scorer): LabelledRows {
  const bySite = new Map<string, number[]>();
  for (let i = 0; i < rows.rows; i++) {
    const site = rows.sites?.[i] ?? DEFAULT_SITE;
    let list = bySite.get(site);
    if (list === undefined) bySite.set(site, (list = []));
    list.push(i);
  }
  const keep = new Uint8Array(rows.rows);
  for (const list of bySite.values()) {
    let expected = 0;
    const positives: number[] = [];
    const negatives: number[] = [];
    for (const i of list) {
      expected += reference.score(rows.features, i * FEATURE_COUNT);
      (rows.labels[i] === 1 ? positives : negatives).push(i);
    }
    const share = Math.min(Math.max(expected / list.length, 0.01), 0.99);
    // Keep all of one class and as many of the other as the expected share asks for.
    let keptPositives = positives.length;
    let keptNegatives = Math.round((positives.length * (1 - share)) / share);
    if (keptNegatives > negatives.length) {
      keptNegatives = negatives.length;
      keptPositives = Math.round((negatives.length * share) / (1 - share));
    }
    for (const i of evenlySpaced(positives, keptPositives)) keep[i] = 1;
    for (const i of evenlySpaced(negatives, keptNegatives)) keep[i] = 1;
  }
  const kept: number[] = [];
  for (let i = 0; i < rows.rows; i++) if (keep[i] === 1) kept.push(i);
  const features = new Float64Array(kept.length * FEATURE_COUNT);
  const labels = new Uint8Array(kept.length);
  kept.forEach((from, to) => {
    features.set(
      rows.features.subarray(from * FEATURE_COUNT, (from + 1) * FEATURE_COUNT),
      to * FEATURE_COUNT,
    );
    labels[to] = rows.labels[from] ?? 0;
  });
  return {
    rows: kept.length,
    features,
    labels,
    sources: kept.map((i) => rows.sources[i] ?? ""),
    sites: kept.map((i) => rows.sites?.[i] ?? DEFAULT_SITE),
  };
}

/** `count` of `items`, evenly spaced and in order (the newest always among them). */
function evenlySpaced(items: readonly number[], count: number): number[] {
  if (count >= items.length) return [...items];
  if (count <= 0) return [];
  const out: number[] = [];
  for (let k = 0; k < count; k++) {
    const at = items.length - 1 - Math.floor((k * items.length) / count);
    out.push(items[at] ?? 0);
  }
  return out.reverse();
}
