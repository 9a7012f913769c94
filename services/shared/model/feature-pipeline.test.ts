import { describe, expect, it } from "vitest";
import { FEATURE_COUNT, FEATURES } from "../features/feature-schema.js";
import { allocateDataset } from "../data/dataset.js";
import {
  encodeValue,
  fitFeaturePipeline,
  parsePipelineParams,
  transformRows,
  transformToFloat32,
  type FeatureTransform,
  type PipelineParams,
} from "./feature-pipeline.js";

/** Two rows; every feature i takes the values a and b. */
function twoRows(a: number[], b: number[]): ReturnType<typeof allocateDataset> {
  const dataset = allocateDataset(2, "synthetic");
  dataset.features.set(a, 0);
  dataset.features.set(b, FEATURE_COUNT);
  return dataset;
}

const logged = FEATURES.map((f) => f.kind === "numeric" && f.logTransform);

describe("feature pipeline, plain encoding (no clip)", () => {
  const a = [20, 0, 0, 1, 100, 20, 30, 6, 3, 1];
  const b = [60, 1, Math.E - 1, 3, 300, 40, 50, 8, 4, 1];
  const params = fitFeaturePipeline(twoRows(a, b), { encoding: "plain" });

  it("log-transforms exactly the schema's logTransform features, in schema order", () => {
    expect(params.features.map((f) => f.name)).toEqual(FEATURES.map((f) => f.name));
    expect(params.features.map((f) => f.log1p)).toEqual(logged);
    expect(logged.filter(Boolean)).toHaveLength(5);
  });

  it("fits mean and population std by hand", () => {
    const age = params.features[0];
    expect(age?.mean).toBe(40);
    expect(age?.std).toBe(20);
    const totalBilirubin = params.features[2];
    expect(totalBilirubin?.mean).toBeCloseTo(0.5, 15);
    expect(totalBilirubin?.std).toBeCloseTo(0.5, 15);
    // A/G ratio is 1 in both rows: constant, so std falls back to 1.
    expect(params.features[9]).toEqual({ name: "albumin_globulin_ratio", log1p: false, mean: 1, std: 1 });
  });

  it("standardizes rows to -1 / +1 and constant features to 0", () => {
    const out = transformToFloat32(params, twoRows(a, b));
    for (let i = 0; i < FEATURE_COUNT - 1; i++) {
      expect(out[i]).toBeCloseTo(-1, 6);
      expect(out[FEATURE_COUNT + i]).toBeCloseTo(1, 6);
    }
    expect(out[FEATURE_COUNT - 1]).toBe(0);
    const wide = new Float64Array(2 * FEATURE_COUNT);
    transformRows(params, twoRows(a, b), wide);
    expect(wide[2]).toBeCloseTo(-1, 14);
    expect(() => transformRows(params, twoRows(a, b), new Float64Array(3))).toThrow(/need 20/);
  });

  it("round-trips through JSON and checks the feature order on load", () => {
    const parsed = parsePipelineParams(JSON.parse(JSON.stringify(params)));
    expect(parsed).toEqual(params);
    const swapped = JSON.parse(JSON.stringify(params)) as { features: unknown[] };
    [swapped.features[0], swapped.features[1]] = [swapped.features[1], swapped.features[0]];
    expect(() => parsePipelineParams(swapped)).toThrow(
      /features\[0\] is "gender"; the schema expects "age" at position 0/,
    );
  });

  it("refuses damaged parameters naming the field", () => {
    const mutate = (
      edit: (p: { formatVersion: number; features: Record<string, unknown>[] }) => void,
    ): unknown => {
      const copy = JSON.parse(JSON.stringify(params)) as {
        formatVersion: number;
        features: Record<string, unknown>[];
      };
      edit(copy);
      return copy;
    };
    expect(() => parsePipelineParams(mutate((p) => (p.features = p.features.slice(1))))).toThrow(
      /has 9 features; this build's schema has 10/,
    );
    expect(() => parsePipelineParams(mutate((p) => ((p.features[3] ?? {}).std = 0)))).toThrow(
      /features\[3\] \(direct_bilirubin\) std must be a finite number of at least 1e-12; got 0/,
    );
    // A subnormal std passes "positive" but turns every answer into NaN.
    for (const std of [5e-324, 1e-310, 1e-13]) {
      expect(() => parsePipelineParams(mutate((p) => ((p.features[3] ?? {}).std = std)))).toThrow(
        /std must be a finite number of at least 1e-12/,
      );
    }
    expect(() => parsePipelineParams(mutate((p) => ((p.features[2] ?? {}).log1p = false)))).toThrow(
      /total_bilirubin\) log1p is false; expected true/,
    );
    expect(() => parsePipelineParams(mutate((p) => ((p.features[0] ?? {}).mean = "40")))).toThrow(
      /\(age\) mean is not finite/,
    );
    expect(() => parsePipelineParams(mutate((p) => (p.formatVersion = 2)))).toThrow(/formatVersion is 2/);
    expect(() => parsePipelineParams(null)).toThrow(/expected a JSON object/);
  });

  it("refuses to fit on no rows", () => {
    expect(() => fitFeaturePipeline(allocateDataset(0, "real"))).toThrow(/0 training rows/);
  });

  it("keeps the params JSON-plain", () => {
    const roundTripped: PipelineParams = JSON.parse(JSON.stringify(params)) as PipelineParams;
    expect(roundTripped).toEqual(params);
  });

  it("carries no clip bounds, so an artifact written before the clinical encoding loads and serves unclipped", () => {
    expect(params.features.every((f) => !("lower" in f) && !("upper" in f))).toBe(true);
    const parsed = parsePipelineParams(JSON.parse(JSON.stringify(params)));
    const low = [20, 0, 0.01, 1, 10, 1, 2, 3, 6, 4];
    const out = new Float64Array(FEATURE_COUNT);
    transformRows(parsed, { rows: 1, features: Float64Array.from(low) }, out);
    // ALT 1 stays 1: (log1p(1) - mean) / std with the fitted ALT mean and std.
    const alt = parsed.features[5];
    expect(out[5]).toBeCloseTo((Math.log1p(1) - (alt?.mean ?? 0)) / (alt?.std ?? 1), 14);
  });
});

describe("feature pipeline, clinical encoding (the default)", () => {
  // Row a lies beyond the healthy-side limit of every directed lab and below total proteins'
  // floor; row b beyond the disease-side limits.
  const a = [20, 0, 0.05, 0, 20, 1, 3, 4.5, 6.2, 3.1];
  const b = [60, 1, 7.3, 4.1, 600, 300, 250, 9, 2.1, 0.6];
  const params = fitFeaturePipeline(twoRows(a, b));
  const byName = (name: string): FeatureTransform | undefined => params.features.find((f) => f.name === name);

  it("clips each lab at the bounds of its clinical reference: healthy-side limits and total proteins' floor", () => {
    expect(
      Object.fromEntries(params.features.map((f) => [f.name, [f.lower ?? null, f.upper ?? null]])),
    ).toEqual({
      age: [null, null],
      gender: [null, null],
      total_bilirubin: [0.1, null],
      direct_bilirubin: [0, null],
      alkaline_phosphatase: [44, null],
      alanine_aminotransferase: [4, null],
      aspartate_aminotransferase: [8, null],
      total_proteins: [6, null],
      albumin: [null, 5.4],
      albumin_globulin_ratio: [null, 2.5],
    });
  });

  it("fits mean and std on the clipped values", () => {
    const alt = byName("alanine_aminotransferase");
    // ALT 1 counts as 4: log1p(4) and log1p(300).
    expect(alt?.mean).toBeCloseTo((Math.log1p(4) + Math.log1p(300)) / 2, 14);
    expect(alt?.std).toBeCloseTo((Math.log1p(300) - Math.log1p(4)) / 2, 14);
    const albumin = byName("albumin");
    expect(albumin?.mean).toBeCloseTo((5.4 + 2.1) / 2, 14);
    const proteins = byName("total_proteins");
    expect(proteins?.mean).toBeCloseTo((6 + 9) / 2, 14);
  });

  it("transforms a value beyond its bound exactly as the bound itself, NaN staying NaN", () => {
    const beyond = Float64Array.from([45, 0, 0.01, 0, 5, 0.5, 1, 2, 9.5, 6]);
    const atBounds = Float64Array.from([45, 0, 0.1, 0, 44, 4, 8, 6, 5.4, 2.5]);
    const z1 = new Float64Array(FEATURE_COUNT);
    const z2 = new Float64Array(FEATURE_COUNT);
    transformRows(params, { rows: 1, features: beyond }, z1);
    transformRows(params, { rows: 1, features: atBounds }, z2);
    expect(Array.from(z1)).toEqual(Array.from(z2));
    const proteins = byName("total_proteins");
    if (proteins === undefined) throw new Error("total_proteins");
    expect(encodeValue(proteins, 4.5)).toBe(6);
    expect(encodeValue(proteins, 7.1)).toBe(7.1);
    expect(encodeValue(proteins, Number.NaN)).toBeNaN();
  });

  it("round-trips through JSON with its bounds", () => {
    expect(parsePipelineParams(JSON.parse(JSON.stringify(params)))).toEqual(params);
  });

  it("refuses bounds that differ from this build's clinical reference, or only some of them", () => {
    const mutate = (edit: (features: Record<string, unknown>[]) => void): unknown => {
      const copy = JSON.parse(JSON.stringify(params)) as { features: Record<string, unknown>[] };
      edit(copy.features);
      return copy;
    };
    expect(() => parsePipelineParams(mutate((f) => ((f[5] ?? {}).lower = 3)))).toThrow(
      /features\[5\] \(alanine_aminotransferase\) lower is 3; this build's clinical reference clips it at 4/,
    );
    expect(() => parsePipelineParams(mutate((f) => ((f[8] ?? {}).lower = 1)))).toThrow(
      /features\[8\] \(albumin\) lower is 1; this build's clinical reference has no lower bound for it/,
    );
    expect(() => parsePipelineParams(mutate((f) => ((f[0] ?? {}).upper = 120)))).toThrow(
      /\(age\) upper is 120; this build's clinical reference has no upper bound/,
    );
    expect(() => parsePipelineParams(mutate((f) => ((f[8] ?? {}).upper = "5.4")))).toThrow(
      /\(albumin\) upper must be a finite number; got 5.4/,
    );
    expect(() => parsePipelineParams(mutate((f) => ((f[8] ?? {}).upper = null)))).toThrow(
      /\(albumin\) upper must be a finite number; got null/,
    );
    expect(() => parsePipelineParams(mutate((f) => delete (f[7] ?? {}).lower))).toThrow(
      /features\[7\] \(total_proteins\) has no lower bound; this build clips it at 6 \(an artifact carries every bound or none\)/,
    );
  });
});
