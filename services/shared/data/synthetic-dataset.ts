import rawParams from "../../../data/synthetic-params.json" with { type: "json" };
import { FEATURE_COUNT, FEATURES, GENDER_CODE, LABEL } from "../features/feature-schema.js";
import { allocateDataset, type Dataset } from "./dataset.js";
import { Prng } from "./prng.js";
import {
  parseSyntheticParams,
  SYNTHETIC_NUMERIC_FEATURES,
  type SyntheticClassParams,
  type SyntheticParams,
} from "./synthetic-params.js";

/** The committed parameters (data/synthetic-params.json), fitted to the real LPD file. */
export const DEFAULT_SYNTHETIC_PARAMS: SyntheticParams = parseSyntheticParams(rawParams);

/** Rows of the real LPD training file; the synthetic default has as many. */
export const LPD_ROW_COUNT = 30_691;

/** One class's sampling constants as flat typed arrays (no lookups per row). */
interface ClassSampler {
  readonly label: number;
  readonly maleShare: number;
  readonly mean: Float64Array;
  /** Lower triangle of L, row-major n×n (upper part zero). */
  readonly l: Float64Array;
}

function sampler(params: SyntheticClassParams, label: number, n: number): ClassSampler {
  const l = new Float64Array(n * n);
  params.cholesky.forEach((row, i) => {
    row.forEach((v, j) => {
      l[i * n + j] = v;
    });
  });
  return { label, maleShare: params.maleShare, mean: Float64Array.from(params.mean), l };
}

/**
 * A labelled dataset drawn from the fitted model (source "synthetic"): the default when the
 * real file is absent, and the benchmark workload (30k, 300k, 1M rows). Deterministic: the
 * same rows, seed and parameters give the same bytes, and row i does not depend on `rows`.
 *
 * Per row: the class from the prior, gender from the class's share of men, the numeric
 * features from the class's multivariate normal (mean + L z, z standard normal), taken out
 * of log1p space with expm1 where the schema log-transforms, clamped into the range seen in
 * the real data (inside the schema range) and rounded to the real data's decimals.
 */
export function generateSyntheticDataset(
  rows: number,
  seed = 1,
  params: SyntheticParams = DEFAULT_SYNTHETIC_PARAMS,
): Dataset {
  if (!Number.isSafeInteger(rows) || rows < 0) {
    throw new RangeError(`rows must be a whole number from 0 up, got ${rows}`);
  }
  const n = SYNTHETIC_NUMERIC_FEATURES.length;
  const column = Int32Array.from(SYNTHETIC_NUMERIC_FEATURES, (spec) => FEATURES.indexOf(spec));
  const genderColumn = FEATURES.findIndex((f) => f.kind === "gender");
  const log = Uint8Array.from(params.features, (f) => (f.space === "log1p" ? 1 : 0));
  const scale = Float64Array.from(params.features, (f) => 10 ** f.decimals);
  const lo = Float64Array.from(params.features, (f, j) =>
    Math.max(f.min, SYNTHETIC_NUMERIC_FEATURES[j]?.min ?? f.min),
  );
  const hi = Float64Array.from(params.features, (f, j) =>
    Math.min(f.max, SYNTHETIC_NUMERIC_FEATURES[j]?.max ?? f.max),
  );
  const disease = sampler(params.classes.liverDisease, LABEL.liverDisease, n);
  const healthy = sampler(params.classes.noLiverDisease, LABEL.noLiverDisease, n);
  const prior = params.classes.liverDisease.prior;

  const dataset = allocateDataset(rows, "synthetic");
  const { features, labels } = dataset;
  const prng = new Prng(seed);
  const z = new Float64Array(n + (n % 2));
  for (let row = 0; row < rows; row++) {
    const cls = prng.nextFloat() < prior ? disease : healthy;
    const base = row * FEATURE_COUNT;
    labels[row] = cls.label;
    features[base + genderColumn] = prng.nextFloat() < cls.maleShare ? GENDER_CODE.male : GENDER_CODE.female;
    for (let k = 0; k < z.length; k += 2) prng.fillNormalPair(z, k);
    const { mean, l } = cls;
    for (let i = 0; i < n; i++) {
      let v = mean[i] ?? 0;
      for (let j = 0; j <= i; j++) v += (l[i * n + j] ?? 0) * (z[j] ?? 0);
      if (log[i] === 1) v = Math.expm1(v);
      const s = scale[i] ?? 1;
      v = Math.round(v * s) / s;
      const min = lo[i] ?? v;
      const max = hi[i] ?? v;
      features[base + (column[i] ?? 0)] = v < min ? min : v > max ? max : v;
    }
  }
  return dataset;
}
