/**
 * The feature pipeline: each lab value clipped at its clinical bounds (clinical-reference.ts:
 * the healthy-side normal limit, total proteins' floor), log1p for the right-skewed lab
 * values the schema marks, then a z-score fitted on the training rows. Training, evaluation
 * and serving all go through the parameters defined here, and the parameters travel in the
 * artifact (pipeline.json) with the feature order and bounds they were fitted with, so
 * serving cannot drift from training.
 */
import { encodingBounds } from "../features/clinical-reference.js";
import { FEATURE_COUNT, FEATURES } from "../features/feature-schema.js";
import { fitInputProfile, parseInputProfile, type InputProfile } from "./input-profile.js";

/**
 * How one input is transformed: x -> ((log1p ? log1p(c) : c) - mean) / std, where
 * c = min(max(x, lower), upper) on the raw scale (a missing bound does not clip).
 */
export interface FeatureTransform {
  readonly name: string;
  /** Raw-scale lower clip. Absent in artifacts written before the clinical encoding. */
  readonly lower?: number | undefined;
  /** Raw-scale upper clip. Absent in artifacts written before the clinical encoding. */
  readonly upper?: number | undefined;
  readonly log1p: boolean;
  readonly mean: number;
  /** Population standard deviation of the (log-)values; 1 for a constant feature. */
  readonly std: number;
}

/** Contents of pipeline.json. */
export interface PipelineParams {
  readonly formatVersion: 1;
  /** One entry per model input, in input-vector order (the schema's FEATURES order). */
  readonly features: readonly FeatureTransform[];
  /**
   * The training rows' distribution of every raw input (quantile bins), for Predict's drift
   * check. Absent in artifacts written before it existed; they still load.
   */
  readonly inputProfile?: InputProfile;
}

/** Raw feature rows: row-major, `rows × FEATURE_COUNT`, in FEATURES order. */
export interface RawRows {
  readonly rows: number;
  readonly features: Float64Array;
}

function usesLog(index: number): boolean {
  const spec = FEATURES[index];
  return spec !== undefined && spec.kind === "numeric" && spec.logTransform;
}

/**
 * How raw values are encoded before the z-score. "clinical" (what Retrain serves): each lab
 * clipped at its bounds in clinical-reference.ts. "plain": no clip, only log1p (the encoding
 * before the clinical one, kept for comparison and for the feedback screen, which must see
 * a far-out value as far out).
 */
export type FeatureEncoding = "clinical" | "plain";

/** The raw-scale clip of `transform` as [lower, upper], infinite where it has no bound. */
export function clipBounds(transform: FeatureTransform): [number, number] {
  return [transform.lower ?? Number.NEGATIVE_INFINITY, transform.upper ?? Number.POSITIVE_INFINITY];
}

/**
 * The value the z-score sees: clipped, then log1p where the transform says. NaN stays NaN
 * (Math.max and Math.min pass it through); an infinite value is clipped like any other, so
 * callers that must see it as far out (the feedback screen) use the "plain" encoding.
 */
export function encodeValue(transform: FeatureTransform, value: number): number {
  const [lower, upper] = clipBounds(transform);
  const clipped = Math.min(Math.max(value, lower), upper);
  return transform.log1p ? Math.log1p(clipped) : clipped;
}

/**
 * Fits mean and standard deviation of every encoded feature on the training rows, two-pass
 * in Float64 for accuracy. A constant feature gets std 1, so it standardizes to 0, not NaN.
 */
export function fitFeaturePipeline(
  train: RawRows,
  options: { readonly encoding?: FeatureEncoding | undefined } = {},
): PipelineParams {
  if (train.rows === 0) throw new Error("cannot fit the feature pipeline on 0 training rows");
  const { rows, features } = train;
  const clinical = (options.encoding ?? "clinical") === "clinical";
  const unfitted: FeatureTransform[] = FEATURES.map((spec, i) => {
    const { lower, upper } = clinical ? encodingBounds(spec.name) : { lower: undefined, upper: undefined };
    return {
      name: spec.name,
      ...(lower === undefined ? {} : { lower }),
      ...(upper === undefined ? {} : { upper }),
      log1p: usesLog(i),
      mean: 0,
      std: 1,
    };
  });
  const sums = new Float64Array(FEATURE_COUNT);
  for (let row = 0; row < rows; row++) {
    const base = row * FEATURE_COUNT;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      sums[i] = (sums[i] ?? 0) + encodeValue(unfitted[i] as FeatureTransform, features[base + i] ?? 0);
    }
  }
  const means = sums.map((sum) => sum / rows);
  const squares = new Float64Array(FEATURE_COUNT);
  for (let row = 0; row < rows; row++) {
    const base = row * FEATURE_COUNT;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const d = encodeValue(unfitted[i] as FeatureTransform, features[base + i] ?? 0) - (means[i] ?? 0);
      squares[i] = (squares[i] ?? 0) + d * d;
    }
  }
  return {
    formatVersion: 1,
    features: unfitted.map((transform, i) => {
      const std = Math.sqrt((squares[i] ?? 0) / rows);
      return { ...transform, mean: means[i] ?? 0, std: std > 1e-12 ? std : 1 };
    }),
    inputProfile: fitInputProfile(rows, features),
  };
}

/**
 * Writes the standardized rows into `out` (row-major, `rows × FEATURE_COUNT`). `out` may be
 * a Float32Array, which is what the tfjs tensors are built from.
 */
export function transformRows(
  params: PipelineParams,
  input: RawRows,
  out: Float32Array | Float64Array,
): void {
  const { rows, features } = input;
  if (out.length < rows * FEATURE_COUNT) {
    throw new Error(`output holds ${out.length} values; ${rows} rows need ${rows * FEATURE_COUNT}`);
  }
  const logs = params.features.map((f) => f.log1p);
  const lowers = Float64Array.from(params.features, (f) => clipBounds(f)[0]);
  const uppers = Float64Array.from(params.features, (f) => clipBounds(f)[1]);
  const means = Float64Array.from(params.features, (f) => f.mean);
  const scales = Float64Array.from(params.features, (f) => 1 / f.std);
  for (let row = 0; row < rows; row++) {
    const base = row * FEATURE_COUNT;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const value = Math.min(
        Math.max(features[base + i] ?? 0, lowers[i] ?? Number.NEGATIVE_INFINITY),
        uppers[i] ?? Number.POSITIVE_INFINITY,
      );
      out[base + i] = ((logs[i] === true ? Math.log1p(value) : value) - (means[i] ?? 0)) * (scales[i] ?? 1);
    }
  }
}

/** The standardized rows as a fresh Float32Array. */
export function transformToFloat32(params: PipelineParams, input: RawRows): Float32Array {
  const out = new Float32Array(input.rows * FEATURE_COUNT);
  transformRows(params, input, out);
  return out;
}

function fail(message: string): never {
  throw new Error(`pipeline.json: ${message}`);
}

/** The clip bound `key` of features[i] as stored: undefined when absent, else this build's value. */
function parseBound(
  e: Record<string, unknown>,
  key: "lower" | "upper",
  i: number,
  name: string,
): number | undefined {
  if (!(key in e)) return undefined;
  const value = e[key];
  if (typeof value !== "number" || !Number.isFinite(value)) {
    fail(`features[${i}] (${name}) ${key} must be a finite number; got ${String(value)}`);
  }
  const expected = encodingBounds(name)[key];
  if (value !== expected) {
    fail(
      `features[${i}] (${name}) ${key} is ${value}; this build's clinical reference ` +
        (expected === undefined ? `has no ${key} bound for it` : `clips it at ${expected}`),
    );
  }
  return value;
}

/**
 * Validates parsed pipeline.json: every field present and finite, and the feature names,
 * order, log flags and clip bounds equal to this build's schema and clinical reference. An
 * artifact fitted for another feature order or other bounds is refused rather than served
 * with inputs it was not trained on. An artifact carries every bound of this build or none
 * (written before the clinical encoding: served without clipping, as it was trained).
 */
export function parsePipelineParams(json: unknown): PipelineParams {
  if (typeof json !== "object" || json === null) fail("expected a JSON object");
  const record = json as Record<string, unknown>;
  if (record["formatVersion"] !== 1) fail(`formatVersion is ${String(record["formatVersion"])}; expected 1`);
  const list = record["features"];
  if (!Array.isArray(list)) fail("features must be an array");
  if (list.length !== FEATURE_COUNT) {
    fail(`has ${list.length} features; this build's schema has ${FEATURE_COUNT}`);
  }
  const features = list.map((entry: unknown, i): FeatureTransform => {
    const spec = FEATURES[i];
    if (spec === undefined) fail(`feature ${i} is not in the schema`);
    if (typeof entry !== "object" || entry === null) fail(`features[${i}] must be an object`);
    const e = entry as Record<string, unknown>;
    const { name, log1p, mean, std } = e;
    if (name !== spec.name) {
      fail(`features[${i}] is "${String(name)}"; the schema expects "${spec.name}" at position ${i}`);
    }
    if (log1p !== usesLog(i))
      fail(`features[${i}] (${spec.name}) log1p is ${String(log1p)}; expected ${usesLog(i)}`);
    if (typeof mean !== "number" || !Number.isFinite(mean))
      fail(`features[${i}] (${spec.name}) mean is not finite`);
    // The fit never writes a std below 1e-12 (a constant feature gets 1); a smaller one would
    // turn every standardized value into ±Infinity and every answer into NaN.
    if (typeof std !== "number" || !Number.isFinite(std) || std < 1e-12) {
      fail(`features[${i}] (${spec.name}) std must be a finite number of at least 1e-12; got ${String(std)}`);
    }
    const lower = parseBound(e, "lower", i, spec.name);
    const upper = parseBound(e, "upper", i, spec.name);
    if (lower !== undefined && upper !== undefined && lower > upper) {
      fail(`features[${i}] (${spec.name}) lower ${lower} is above upper ${upper}`);
    }
    return {
      name: spec.name,
      ...(lower === undefined ? {} : { lower }),
      ...(upper === undefined ? {} : { upper }),
      log1p: usesLog(i),
      mean,
      std,
    };
  });
  const bounded = features.some((f) => f.lower !== undefined || f.upper !== undefined);
  if (bounded) {
    features.forEach((f, i) => {
      const expected = encodingBounds(f.name);
      for (const key of ["lower", "upper"] as const) {
        const bound = expected[key];
        if (bound !== undefined && f[key] === undefined) {
          fail(
            `features[${i}] (${f.name}) has no ${key} bound; this build clips it at ${bound} ` +
              "(an artifact carries every bound or none)",
          );
        }
      }
    });
  }
  if (!("inputProfile" in record)) return { formatVersion: 1, features };
  return { formatVersion: 1, features, inputProfile: parseInputProfile(record["inputProfile"]) };
}
