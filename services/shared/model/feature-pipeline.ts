/**
 * The feature pipeline: log1p for the right-skewed lab values the schema marks, then a
 * z-score fitted on the training rows. Training, evaluation and serving all go through the
 * parameters defined here, and the parameters travel in the artifact (pipeline.json) with
 * the feature order they were fitted in, so serving cannot drift from training.
 */
import { FEATURE_COUNT, FEATURES } from "../features/feature-schema.js";
import { fitInputProfile, parseInputProfile, type InputProfile } from "./input-profile.js";

/** How one input is transformed: x -> ((log1p ? log1p(x) : x) - mean) / std. */
export interface FeatureTransform {
  readonly name: string;
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
 * Fits mean and standard deviation of every (log-)feature on the training rows, two-pass in
 * Float64 for accuracy. A constant feature gets std 1, so it standardizes to 0, not NaN.
 */
export function fitFeaturePipeline(train: RawRows): PipelineParams {
  if (train.rows === 0) throw new Error("cannot fit the feature pipeline on 0 training rows");
  const { rows, features } = train;
  const sums = new Float64Array(FEATURE_COUNT);
  const logs = FEATURES.map((_, i) => usesLog(i));
  for (let row = 0; row < rows; row++) {
    const base = row * FEATURE_COUNT;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const value = features[base + i] ?? 0;
      sums[i] = (sums[i] ?? 0) + (logs[i] === true ? Math.log1p(value) : value);
    }
  }
  const means = sums.map((sum) => sum / rows);
  const squares = new Float64Array(FEATURE_COUNT);
  for (let row = 0; row < rows; row++) {
    const base = row * FEATURE_COUNT;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const value = features[base + i] ?? 0;
      const d = (logs[i] === true ? Math.log1p(value) : value) - (means[i] ?? 0);
      squares[i] = (squares[i] ?? 0) + d * d;
    }
  }
  return {
    formatVersion: 1,
    features: FEATURES.map((spec, i) => {
      const std = Math.sqrt((squares[i] ?? 0) / rows);
      return { name: spec.name, log1p: logs[i] === true, mean: means[i] ?? 0, std: std > 1e-12 ? std : 1 };
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
  const means = Float64Array.from(params.features, (f) => f.mean);
  const scales = Float64Array.from(params.features, (f) => 1 / f.std);
  for (let row = 0; row < rows; row++) {
    const base = row * FEATURE_COUNT;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const value = features[base + i] ?? 0;
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

/**
 * Validates parsed pipeline.json: every field present and finite, and the feature names,
 * order and log flags equal to this build's schema. An artifact fitted for another feature
 * order is refused rather than served with shuffled inputs.
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
    if (typeof std !== "number" || !Number.isFinite(std) || std <= 0) {
      fail(`features[${i}] (${spec.name}) std must be a positive finite number; got ${String(std)}`);
    }
    return { name: spec.name, log1p: usesLog(i), mean, std };
  });
  if (!("inputProfile" in record)) return { formatVersion: 1, features };
  return { formatVersion: 1, features, inputProfile: parseInputProfile(record["inputProfile"]) };
}
