import {
  FEATURE_COUNT,
  FEATURES,
  GENDER_CODE,
  LABEL,
  type NumericFeatureName,
  type NumericFeatureSpec,
} from "../features/feature-schema.js";
import type { Dataset } from "./dataset.js";
import { uniqueRowIndices } from "./row-deduplicator.js";

/** Identifies the JSON layout; bump it when the layout changes. */
export const SYNTHETIC_PARAMS_FORMAT = "liver-mesh/synthetic-params/v1";

/** The numeric features in FEATURES order: the order of every mean and Cholesky row. */
export const SYNTHETIC_NUMERIC_FEATURES: readonly NumericFeatureSpec[] = FEATURES.filter(
  (f): f is NumericFeatureSpec => f.kind === "numeric",
);

/** How one numeric feature is modelled and written. */
export interface SyntheticFeatureParams {
  name: NumericFeatureName;
  /** "log1p" when the schema's logTransform is true: the normal is fitted to log1p(x). */
  space: "log1p" | "raw";
  /** Decimal places of the real data; samples are rounded to them. */
  decimals: number;
  /** Smallest and largest value in the fitted rows; samples are clamped into them. */
  min: number;
  max: number;
}

/** One class: its share, its gender mix and a multivariate normal over the numeric features. */
export interface SyntheticClassParams {
  /** Fitted rows of this class. */
  rows: number;
  /** Share of this class among the fitted rows. */
  prior: number;
  /** Share of men in this class (gender is drawn independently of the lab values). */
  maleShare: number;
  /** Mean, in each feature's space, in SYNTHETIC_NUMERIC_FEATURES order. */
  mean: number[];
  /** Lower-triangular Cholesky factor L of the covariance (L Lᵀ = Σ), row by row. */
  cholesky: number[][];
}

/** What the parameters were fitted on, so a reader can tell which data they summarize. */
export interface SyntheticFitProvenance {
  /** File name only: absolute paths of someone's machine do not belong in the repo. */
  file: string;
  sha256: string;
  bytes: number;
  rowsRead: number;
  completeRows: number;
  uniqueCompleteRows: number;
  fittedAt: string;
}

/** The stored parameters of the synthetic default dataset (data/synthetic-params.json). */
export interface SyntheticParams {
  format: typeof SYNTHETIC_PARAMS_FORMAT;
  fittedOn: SyntheticFitProvenance;
  features: SyntheticFeatureParams[];
  classes: { liverDisease: SyntheticClassParams; noLiverDisease: SyntheticClassParams };
}

/** Rounds to `digits` significant digits, so the stored JSON stays readable. */
function significant(x: number, digits = 8): number {
  return x === 0 ? 0 : Number(x.toPrecision(digits));
}

/** Smallest number of decimals (up to 6) that writes every value exactly. */
function decimalsOf(values: Float64Array): number {
  for (let d = 0; d < 6; d++) {
    const scale = 10 ** d;
    let exact = true;
    for (const v of values) {
      if (Math.round(v * scale) / scale !== v) {
        exact = false;
        break;
      }
    }
    if (exact) return d;
  }
  return 6;
}

/** L with L Lᵀ = a (a symmetric positive definite, row-major n×n). */
export function choleskyFactor(a: Float64Array, n: number): number[][] {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * n + j] ?? 0;
      for (let k = 0; k < j; k++) sum -= (l[i * n + k] ?? 0) * (l[j * n + k] ?? 0);
      if (i === j) {
        if (!(sum > 0)) {
          const name = SYNTHETIC_NUMERIC_FEATURES[i]?.name ?? `feature ${i}`;
          throw new Error(
            `Covariance is not positive definite at ${name}: the feature is constant or a linear ` +
              `combination of the others in the fitted rows; fit on more varied data.`,
          );
        }
        l[i * n + i] = Math.sqrt(sum);
      } else {
        l[i * n + j] = sum / (l[j * n + j] ?? 1);
      }
    }
  }
  return Array.from({ length: n }, (_, i) => Array.from(l.subarray(i * n, i * n + i + 1)));
}

/**
 * Fits the synthetic model to the distinct rows of `dataset` (duplicates would weight some
 * patients many times): class prior, per class the share of men and the mean and Cholesky
 * factor of the covariance of the numeric features (log1p space where the schema says so).
 */
export function fitSyntheticParams(
  dataset: Dataset,
  provenance: Omit<SyntheticFitProvenance, "uniqueCompleteRows">,
): SyntheticParams {
  const unique = uniqueRowIndices(dataset);
  const n = SYNTHETIC_NUMERIC_FEATURES.length;
  const schemaIndex = SYNTHETIC_NUMERIC_FEATURES.map((spec) => FEATURES.indexOf(spec));
  const genderIndex = FEATURES.findIndex((f) => f.kind === "gender");
  const columns = SYNTHETIC_NUMERIC_FEATURES.map(() => new Float64Array(unique.length));
  unique.forEach((row, r) => {
    schemaIndex.forEach((col, j) => {
      (columns[j] as Float64Array)[r] = dataset.features[row * FEATURE_COUNT + col] ?? 0;
    });
  });
  const features: SyntheticFeatureParams[] = SYNTHETIC_NUMERIC_FEATURES.map((spec, j) => {
    const values = columns[j] as Float64Array;
    let min = Infinity;
    let max = -Infinity;
    for (const v of values) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    return {
      name: spec.name,
      space: spec.logTransform ? "log1p" : "raw",
      decimals: decimalsOf(values),
      min,
      max,
    };
  });

  const fitClass = (label: number): SyntheticClassParams => {
    const members = unique.filter((row) => dataset.labels[row] === label);
    if (members.length <= n) {
      throw new Error(
        `Only ${members.length} distinct rows with label ${label}; fitting needs more than ${n} per class.`,
      );
    }
    const mean = new Float64Array(n);
    const x = new Float64Array(members.length * n);
    let males = 0;
    members.forEach((row, r) => {
      if (dataset.features[row * FEATURE_COUNT + genderIndex] === GENDER_CODE.male) males++;
      schemaIndex.forEach((col, j) => {
        const raw = dataset.features[row * FEATURE_COUNT + col] ?? 0;
        const v = features[j]?.space === "log1p" ? Math.log1p(raw) : raw;
        x[r * n + j] = v;
        mean[j] = (mean[j] ?? 0) + v;
      });
    });
    for (let j = 0; j < n; j++) mean[j] = (mean[j] ?? 0) / members.length;
    const cov = new Float64Array(n * n);
    for (let r = 0; r < members.length; r++) {
      for (let i = 0; i < n; i++) {
        const di = (x[r * n + i] ?? 0) - (mean[i] ?? 0);
        for (let j = 0; j <= i; j++)
          cov[i * n + j] = (cov[i * n + j] ?? 0) + di * ((x[r * n + j] ?? 0) - (mean[j] ?? 0));
      }
    }
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        const c = (cov[i * n + j] ?? 0) / (members.length - 1);
        cov[i * n + j] = c;
        cov[j * n + i] = c;
      }
    }
    return {
      rows: members.length,
      prior: significant(members.length / unique.length),
      maleShare: significant(males / members.length),
      mean: Array.from(mean, (v) => significant(v)),
      cholesky: choleskyFactor(cov, n).map((row) => row.map((v) => significant(v))),
    };
  };

  return {
    format: SYNTHETIC_PARAMS_FORMAT,
    fittedOn: {
      file: provenance.file,
      sha256: provenance.sha256,
      bytes: provenance.bytes,
      rowsRead: provenance.rowsRead,
      completeRows: provenance.completeRows,
      uniqueCompleteRows: unique.length,
      fittedAt: provenance.fittedAt,
    },
    features,
    classes: { liverDisease: fitClass(LABEL.liverDisease), noLiverDisease: fitClass(LABEL.noLiverDisease) },
  };
}

function fail(where: string, problem: string): never {
  throw new Error(`Invalid synthetic parameters: ${where} ${problem}. Refit with "npm run fit-synthetic".`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function finiteNumber(value: unknown, where: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) fail(where, "must be a finite number");
  return value;
}

function share(value: unknown, where: string): number {
  const v = finiteNumber(value, where);
  if (v < 0 || v > 1) fail(where, `is ${v}; must be from 0 to 1`);
  return v;
}

function numberArray(value: unknown, length: number, where: string): number[] {
  if (!Array.isArray(value) || value.length !== length) fail(where, `must be an array of ${length} numbers`);
  return value.map((v: unknown, i) => finiteNumber(v, `${where}[${i}]`));
}

function parseClass(value: unknown, where: string): SyntheticClassParams {
  if (!isRecord(value)) fail(where, "must be an object");
  const n = SYNTHETIC_NUMERIC_FEATURES.length;
  const rows = finiteNumber(value.rows, `${where}.rows`);
  const cholesky = value.cholesky;
  if (!Array.isArray(cholesky) || cholesky.length !== n) fail(`${where}.cholesky`, `must have ${n} rows`);
  const l = cholesky.map((row: unknown, i) => numberArray(row, i + 1, `${where}.cholesky[${i}]`));
  l.forEach((row, i) => {
    if (!((row[i] ?? 0) > 0)) fail(`${where}.cholesky[${i}][${i}]`, "must be positive");
  });
  return {
    rows,
    prior: share(value.prior, `${where}.prior`),
    maleShare: share(value.maleShare, `${where}.maleShare`),
    mean: numberArray(value.mean, n, `${where}.mean`),
    cholesky: l,
  };
}

/**
 * Checks parameters read from JSON against this schema (feature names, order, spaces) and
 * their own consistency, so a stale or hand-edited file fails loudly instead of producing
 * skewed data.
 */
export function parseSyntheticParams(value: unknown): SyntheticParams {
  if (!isRecord(value)) fail("the document", "must be a JSON object");
  if (value.format !== SYNTHETIC_PARAMS_FORMAT)
    fail("format", `is ${JSON.stringify(value.format)}; expected "${SYNTHETIC_PARAMS_FORMAT}"`);
  const fittedOn = value.fittedOn;
  if (!isRecord(fittedOn)) fail("fittedOn", "must be an object");
  const text = (key: string): string => {
    const v = fittedOn[key];
    if (typeof v !== "string") fail(`fittedOn.${key}`, "must be a string");
    return v;
  };
  const count = (key: string): number => finiteNumber(fittedOn[key], `fittedOn.${key}`);
  const features = value.features;
  if (!Array.isArray(features) || features.length !== SYNTHETIC_NUMERIC_FEATURES.length)
    fail("features", `must list the ${SYNTHETIC_NUMERIC_FEATURES.length} numeric features of the schema`);
  const parsedFeatures = SYNTHETIC_NUMERIC_FEATURES.map((spec, j): SyntheticFeatureParams => {
    const f: unknown = features[j];
    const where = `features[${j}]`;
    if (!isRecord(f)) fail(where, "must be an object");
    if (f.name !== spec.name)
      fail(`${where}.name`, `is ${JSON.stringify(f.name)}; the schema has "${spec.name}"`);
    const space = spec.logTransform ? "log1p" : "raw";
    if (f.space !== space)
      fail(`${where}.space`, `is ${JSON.stringify(f.space)}; the schema implies "${space}"`);
    const decimals = finiteNumber(f.decimals, `${where}.decimals`);
    if (!Number.isInteger(decimals) || decimals < 0 || decimals > 6)
      fail(`${where}.decimals`, "must be an integer from 0 to 6");
    const min = finiteNumber(f.min, `${where}.min`);
    const max = finiteNumber(f.max, `${where}.max`);
    if (min > max || max < spec.min || min > spec.max)
      fail(where, `range ${min}..${max} does not overlap the schema range ${spec.min}..${spec.max}`);
    return { name: spec.name, space, decimals, min, max };
  });
  const classes = value.classes;
  if (!isRecord(classes)) fail("classes", "must be an object");
  const liverDisease = parseClass(classes.liverDisease, "classes.liverDisease");
  const noLiverDisease = parseClass(classes.noLiverDisease, "classes.noLiverDisease");
  if (Math.abs(liverDisease.prior + noLiverDisease.prior - 1) > 1e-6)
    fail("classes.*.prior", "must sum to 1");
  return {
    format: SYNTHETIC_PARAMS_FORMAT,
    fittedOn: {
      file: text("file"),
      sha256: text("sha256"),
      bytes: count("bytes"),
      rowsRead: count("rowsRead"),
      completeRows: count("completeRows"),
      uniqueCompleteRows: count("uniqueCompleteRows"),
      fittedAt: text("fittedAt"),
    },
    features: parsedFeatures,
    classes: { liverDisease, noLiverDisease },
  };
}
