/**
 * The training data's distribution of every input, as quantile bins: what Predict compares
 * the patients it now sees with (input drift). Fitted with the feature pipeline and stored
 * in pipeline.json, so each model version carries the distribution it was trained on.
 * Artifacts written before the profile existed have none; Predict then reports drift as
 * not measured instead of refusing the model.
 */
import { FEATURE_COUNT, FEATURES } from "../features/feature-schema.js";

/** Bins per numeric feature: deciles. */
export const PROFILE_BINS = 10;
/** Rows used to fit the profile at most (a stride over larger sets); deciles need no more. */
const MAX_PROFILE_ROWS = 100_000;

/**
 * One feature's bins: bin 0 holds values <= edges[0], bin i values in (edges[i-1], edges[i]],
 * the last bin values > the last edge; proportions[i] is the share of training rows in bin i.
 */
export interface FeatureProfile {
  readonly name: string;
  /** Increasing, distinct; one fewer than the proportions. */
  readonly edges: readonly number[];
  /** Non-negative, summing to 1. */
  readonly proportions: readonly number[];
}

/** Every input's training distribution, in FEATURES order. */
export interface InputProfile {
  /** Training rows the proportions were counted on. */
  readonly rows: number;
  readonly features: readonly FeatureProfile[];
}

/** The bin of `value` (see FeatureProfile): a binary search over the edges. */
export function binOf(edges: ArrayLike<number>, value: number): number {
  let low = 0;
  let high = edges.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (value <= (edges[mid] as number)) high = mid;
    else low = mid + 1;
  }
  return low;
}

/**
 * Fits the profile on raw training rows (row-major, FEATURES order, model gender coding):
 * decile edges per feature (ties merged, so a feature with few distinct values gets fewer
 * bins), then the share of rows in each bin counted with the same rule serving uses.
 */
export function fitInputProfile(rows: number, values: Float64Array): InputProfile {
  if (rows === 0) throw new Error("cannot fit the input profile on 0 rows");
  const stride = Math.max(1, Math.ceil(rows / MAX_PROFILE_ROWS));
  const used = Math.ceil(rows / stride);
  const column = new Float64Array(used);
  const features = FEATURES.map((spec, i): FeatureProfile => {
    for (let r = 0, k = 0; r < rows; r += stride, k++) column[k] = values[r * FEATURE_COUNT + i] as number;
    const sorted = column.slice().sort();
    const edges: number[] = [];
    for (let q = 1; q < PROFILE_BINS; q++) {
      const edge = sorted[Math.min(used - 1, Math.floor((q * used) / PROFILE_BINS))] as number;
      // The top value as an edge would leave an always-empty last bin; ties give one edge.
      if (edge < (sorted[used - 1] as number) && (edges.length === 0 || edge > (edges.at(-1) as number)))
        edges.push(edge);
    }
    const counts = new Float64Array(edges.length + 1);
    for (let k = 0; k < used; k++) {
      const bin = binOf(edges, column[k] as number);
      counts[bin] = (counts[bin] as number) + 1;
    }
    return { name: spec.name, edges, proportions: Array.from(counts, (c) => c / used) };
  });
  return { rows: used, features };
}

function fail(message: string): never {
  throw new Error(`pipeline.json: inputProfile${message}`);
}

/** Validates a parsed inputProfile: the schema's features in order, sorted edges, proportions summing to 1. */
export function parseInputProfile(json: unknown): InputProfile {
  if (typeof json !== "object" || json === null) fail(" must be an object");
  const record = json as Record<string, unknown>;
  const rows = record["rows"];
  if (typeof rows !== "number" || !Number.isInteger(rows) || rows < 1)
    fail(".rows must be a positive integer");
  const list = record["features"];
  if (!Array.isArray(list) || list.length !== FEATURE_COUNT)
    fail(`.features must list ${FEATURE_COUNT} features`);
  const features = list.map((entry: unknown, i): FeatureProfile => {
    const name = FEATURES[i]?.name ?? "";
    if (typeof entry !== "object" || entry === null) fail(`.features[${i}] must be an object`);
    const e = entry as Record<string, unknown>;
    if (e["name"] !== name) fail(`.features[${i}] is "${String(e["name"])}"; expected "${name}"`);
    const edges = e["edges"];
    const proportions = e["proportions"];
    if (!Array.isArray(edges) || !edges.every((x) => typeof x === "number" && Number.isFinite(x)))
      fail(`.features[${i}] (${name}) edges must be finite numbers`);
    if (!edges.every((x: number, k) => k === 0 || x > (edges[k - 1] as number)))
      fail(`.features[${i}] (${name}) edges must increase`);
    if (
      !Array.isArray(proportions) ||
      proportions.length !== edges.length + 1 ||
      !proportions.every((x) => typeof x === "number" && x >= 0 && x <= 1)
    )
      fail(`.features[${i}] (${name}) proportions must be ${edges.length + 1} numbers from 0 to 1`);
    const sum = (proportions as number[]).reduce((a, b) => a + b, 0);
    if (Math.abs(sum - 1) > 1e-6) fail(`.features[${i}] (${name}) proportions sum to ${sum}, not 1`);
    return { name, edges: edges as number[], proportions: proportions as number[] };
  });
  return { rows, features };
}
