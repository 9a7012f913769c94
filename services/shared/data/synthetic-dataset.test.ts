import { describe, expect, it } from "vitest";
import { FEATURE_COUNT, FEATURES, GENDER_CODE, type NumericFeatureName } from "../features/feature-schema.js";
import type { Dataset } from "./dataset.js";
import { DEFAULT_SYNTHETIC_PARAMS, generateSyntheticDataset } from "./synthetic-dataset.js";

function bytesOf(array: Float64Array | Uint8Array): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

const column = (name: string): number => FEATURES.findIndex((f) => f.name === name);

/** Mean of f(value) of one feature over the rows with `label`. */
function classMean(dataset: Dataset, name: NumericFeatureName, label: number, f = (v: number) => v): number {
  const c = column(name);
  let sum = 0;
  let n = 0;
  for (let row = 0; row < dataset.rows; row++) {
    if (dataset.labels[row] !== label) continue;
    sum += f(dataset.features[row * FEATURE_COUNT + c] ?? Number.NaN);
    n++;
  }
  return sum / n;
}

describe("generateSyntheticDataset", () => {
  it("is deterministic for a seed and differs between seeds", () => {
    const a = generateSyntheticDataset(5_000, 42);
    const b = generateSyntheticDataset(5_000, 42);
    const c = generateSyntheticDataset(5_000, 43);
    expect(a.source).toBe("synthetic");
    expect(bytesOf(a.features).equals(bytesOf(b.features))).toBe(true);
    expect(bytesOf(a.labels).equals(bytesOf(b.labels))).toBe(true);
    expect(bytesOf(a.features).equals(bytesOf(c.features))).toBe(false);
  });

  it("gives row i the same values whatever the row count", () => {
    const small = generateSyntheticDataset(1_000, 3);
    const large = generateSyntheticDataset(4_000, 3);
    expect(bytesOf(small.features).equals(bytesOf(large.features.subarray(0, 1_000 * FEATURE_COUNT)))).toBe(
      true,
    );
    expect(bytesOf(small.labels).equals(bytesOf(large.labels.subarray(0, 1_000)))).toBe(true);
  });

  it("keeps every value inside the schema range and on the real data's decimals", () => {
    const dataset = generateSyntheticDataset(50_000, 1);
    const paramsByName = new Map(DEFAULT_SYNTHETIC_PARAMS.features.map((f) => [f.name, f]));
    FEATURES.forEach((spec, i) => {
      for (let row = 0; row < dataset.rows; row++) {
        const v = dataset.features[row * FEATURE_COUNT + i] ?? Number.NaN;
        if (spec.kind === "gender") {
          if (v !== GENDER_CODE.male && v !== GENDER_CODE.female) expect.fail(`row ${row}: gender code ${v}`);
          continue;
        }
        const fitted = paramsByName.get(spec.name);
        if (fitted === undefined) throw new Error(`no parameters for ${spec.name}`);
        const scale = 10 ** fitted.decimals;
        if (!(v >= spec.min && v <= spec.max && v >= fitted.min && v <= fitted.max))
          expect.fail(`row ${row}: ${spec.name} = ${v} outside ${fitted.min}..${fitted.max}`);
        if (Math.round(v * scale) / scale !== v)
          expect.fail(`row ${row}: ${spec.name} = ${v} has too many decimals`);
      }
    });
    for (const label of dataset.labels) if (label > 1) expect.fail(`label ${label}`);
  });

  it("keeps the class prior and the gender share per class", () => {
    const dataset = generateSyntheticDataset(100_000, 5);
    const { liverDisease, noLiverDisease } = DEFAULT_SYNTHETIC_PARAMS.classes;
    const diseased = dataset.labels.reduce((n, label) => n + label, 0);
    // Binomial standard error at 100k rows is about 0.0014.
    expect(Math.abs(diseased / dataset.rows - liverDisease.prior)).toBeLessThan(0.01);
    expect(Math.abs(genderShare(dataset, 1) - liverDisease.maleShare)).toBeLessThan(0.015);
    expect(Math.abs(genderShare(dataset, 0) - noLiverDisease.maleShare)).toBeLessThan(0.02);
  });

  it("preserves how the lab values differ between the classes", () => {
    const dataset = generateSyntheticDataset(50_000, 9);
    const log = Math.log1p;
    // Liver disease: more bilirubin and higher enzymes, less albumin (as in the real data).
    expect(classMean(dataset, "total_bilirubin", 1, log)).toBeGreaterThan(
      classMean(dataset, "total_bilirubin", 0, log) + 0.3,
    );
    expect(classMean(dataset, "direct_bilirubin", 1, log)).toBeGreaterThan(
      classMean(dataset, "direct_bilirubin", 0, log) + 0.2,
    );
    expect(classMean(dataset, "alanine_aminotransferase", 1, log)).toBeGreaterThan(
      classMean(dataset, "alanine_aminotransferase", 0, log) + 0.3,
    );
    expect(classMean(dataset, "albumin", 1)).toBeLessThan(classMean(dataset, "albumin", 0) - 0.1);
    // Fitted means come back (rounding and clamping shift them a little).
    const { liverDisease } = DEFAULT_SYNTHETIC_PARAMS.classes;
    const ageIndex = DEFAULT_SYNTHETIC_PARAMS.features.findIndex((f) => f.name === "age");
    expect(classMean(dataset, "age", 1)).toBeCloseTo(liverDisease.mean[ageIndex] ?? Number.NaN, 0);
    // Total and direct bilirubin stay strongly correlated.
    expect(correlation(dataset, "total_bilirubin", "direct_bilirubin")).toBeGreaterThan(0.8);
  });

  it("generates 1M rows in typed arrays only", () => {
    const before = process.memoryUsage();
    const dataset = generateSyntheticDataset(1_000_000, 1);
    const after = process.memoryUsage();
    expect(dataset.rows).toBe(1_000_000);
    expect(dataset.features.length).toBe(1_000_000 * FEATURE_COUNT);
    // 80 MB of features + 1 MB of labels live outside the JS heap; the heap barely moves.
    expect(after.heapUsed - before.heapUsed).toBeLessThan(20 * 2 ** 20);
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(100 * 2 ** 20);
    // How fast: `npm run bench -- --only data` (a test asserts no duration).
  });

  it("rejects a row count that is not a whole number", () => {
    expect(() => generateSyntheticDataset(-1)).toThrow(/rows must be a whole number/);
    expect(() => generateSyntheticDataset(1.5)).toThrow(/rows must be a whole number/);
    expect(generateSyntheticDataset(0).rows).toBe(0);
  });
});

function genderShare(dataset: Dataset, label: number): number {
  const c = column("gender");
  let males = 0;
  let n = 0;
  for (let row = 0; row < dataset.rows; row++) {
    if (dataset.labels[row] !== label) continue;
    if (dataset.features[row * FEATURE_COUNT + c] === GENDER_CODE.male) males++;
    n++;
  }
  return males / n;
}

function correlation(dataset: Dataset, a: NumericFeatureName, b: NumericFeatureName): number {
  const ca = column(a);
  const cb = column(b);
  let sa = 0;
  let sb = 0;
  let saa = 0;
  let sbb = 0;
  let sab = 0;
  for (let row = 0; row < dataset.rows; row++) {
    const x = Math.log1p(dataset.features[row * FEATURE_COUNT + ca] ?? Number.NaN);
    const y = Math.log1p(dataset.features[row * FEATURE_COUNT + cb] ?? Number.NaN);
    sa += x;
    sb += y;
    saa += x * x;
    sbb += y * y;
    sab += x * y;
  }
  const n = dataset.rows;
  return (sab / n - (sa / n) * (sb / n)) / Math.sqrt((saa / n - (sa / n) ** 2) * (sbb / n - (sb / n) ** 2));
}
