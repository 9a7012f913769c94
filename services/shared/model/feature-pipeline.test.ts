import { describe, expect, it } from "vitest";
import { FEATURE_COUNT, FEATURES } from "../features/feature-schema.js";
import { allocateDataset } from "../data/dataset.js";
import {
  fitFeaturePipeline,
  parsePipelineParams,
  transformRows,
  transformToFloat32,
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

describe("feature pipeline", () => {
  const a = [20, 0, 0, 1, 100, 20, 30, 6, 3, 1];
  const b = [60, 1, Math.E - 1, 3, 300, 40, 50, 8, 4, 1];
  const params = fitFeaturePipeline(twoRows(a, b));

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
      /features\[3\] \(direct_bilirubin\) std must be a positive finite number; got 0/,
    );
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
});
