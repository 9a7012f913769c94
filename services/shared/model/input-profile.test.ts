import { describe, expect, it } from "vitest";
import { FEATURE_COUNT } from "../features/feature-schema.js";
import { generateSyntheticDataset } from "../data/synthetic-dataset.js";
import { fitFeaturePipeline, parsePipelineParams } from "./feature-pipeline.js";
import { binOf, fitInputProfile, parseInputProfile } from "./input-profile.js";

describe("binOf", () => {
  it("puts a value equal to an edge in the lower bin, and beyond the last edge in the last", () => {
    const edges = [1, 2, 5];
    expect([0, 1, 1.5, 2, 3, 5, 6].map((v) => binOf(edges, v))).toEqual([0, 0, 1, 1, 2, 2, 3]);
    expect(binOf([], 42)).toBe(0);
  });
});

describe("fitInputProfile", () => {
  const data = generateSyntheticDataset(3_000, 2);
  const profile = fitInputProfile(data.rows, data.features);

  it("fits decile bins whose proportions sum to 1, and two bins for gender", () => {
    expect(profile.features).toHaveLength(FEATURE_COUNT);
    for (const feature of profile.features) {
      expect(feature.proportions.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(feature.proportions).toHaveLength(feature.edges.length + 1);
      expect(feature.edges.length).toBeLessThanOrEqual(9);
    }
    const age = profile.features[0];
    expect(age?.edges).toHaveLength(9);
    age?.proportions.forEach((p) => expect(p).toBeGreaterThan(0.05));
    expect(profile.features[1]?.edges).toEqual([0]);
  });

  it("travels in pipeline.json, and a pipeline.json without it still parses", () => {
    const pipeline = fitFeaturePipeline(data);
    const parsed = parsePipelineParams(JSON.parse(JSON.stringify(pipeline)));
    expect(parsed.inputProfile).toEqual(pipeline.inputProfile);
    const { inputProfile: _none, ...older } = pipeline;
    expect(parsePipelineParams(JSON.parse(JSON.stringify(older))).inputProfile).toBeUndefined();
  });

  it("refuses a damaged profile, naming what is wrong", () => {
    const json = JSON.parse(JSON.stringify(profile)) as {
      rows: number;
      features: { name: string; edges: number[]; proportions: number[] }[];
    };
    const damaged = (change: (p: typeof json) => void): unknown => {
      const copy = structuredClone(json);
      change(copy);
      return copy;
    };
    expect(() => parseInputProfile(null)).toThrow("pipeline.json: inputProfile must be an object");
    expect(() => parseInputProfile(damaged((p) => (p.rows = 0)))).toThrow(
      "inputProfile.rows must be a positive integer",
    );
    expect(() => parseInputProfile(damaged((p) => p.features.pop()))).toThrow("must list 10 features");
    expect(() => parseInputProfile(damaged((p) => p.features[2] && (p.features[2].name = "x")))).toThrow(
      'inputProfile.features[2] is "x"; expected "total_bilirubin"',
    );
    expect(() => parseInputProfile(damaged((p) => p.features[0]?.edges.reverse()))).toThrow(
      "edges must increase",
    );
    expect(() => parseInputProfile(damaged((p) => p.features[0]?.proportions.pop()))).toThrow(
      "proportions must be 10 numbers from 0 to 1",
    );
    expect(() => parseInputProfile(damaged((p) => p.features[0]?.proportions.splice(0, 1, 0.9)))).toThrow(
      /proportions sum to 1\.\d+, not 1/,
    );
    expect(() =>
      parseInputProfile(damaged((p) => p.features[0] && (p.features[0].edges = [Number.NaN]))),
    ).toThrow("edges must be finite numbers");
  });
});
