import { describe, expect, it } from "vitest";
import { Gender } from "../gen/liver/v1/patient.js";
import { Explanation, ModelSource } from "../gen/liver/v1/predict_service.js";
import { FEATURES, FEATURE_COUNT, GENDER_CODE } from "../shared/features/feature-schema.js";
import { type ExplanationSource, NO_CLIP, explanationSize, writeExplanation } from "./explanation-wire.js";
import { PredictionExplainer } from "./prediction-explainer.js";
import type { ServingModel, ValueClip } from "./serving-model.js";

const GENDER_POSITION = FEATURES.findIndex((spec) => spec.kind === "gender");

/** A model whose contributions are read from a table, so a test picks zeros, -0, ties and extremes. */
function tableModel(table: Float64Array, reference: number, clip?: ValueClip): ServingModel {
  return {
    ...(clip === undefined ? {} : { clip }),
    version: "v1",
    sha256: "0".repeat(64),
    threshold: 0.5,
    metrics: undefined as never,
    trainedOnSyntheticData: false,
    source: ModelSource.MODEL_SOURCE_BUNDLED,
    loadedAt: new Date(),
    backend: "cpu",
    inputProfile: undefined,
    score: () => 0.5,
    explain: (_vectors, _offset, contributions) => {
      contributions.set(table);
      return reference;
    },
  };
}

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The explanation of the vector at `offset` in wire form, sized then written as BatchResponseWriter does. */
function wire(
  explainer: PredictionExplainer,
  model: ServingModel,
  vectors: Float64Array,
  offset: number,
): Buffer {
  const source: ExplanationSource = {
    reference: explainer.explainInto(model, vectors, offset),
    contributions: explainer.contributions,
    contributionsAt: 0,
    order: explainer.order,
    orderAt: 0,
    vectors,
    vectorAt: offset,
    clip: model.clip ?? NO_CLIP,
  };
  const out = Buffer.alloc(explanationSize(source));
  expect(writeExplanation(source, out, 0)).toBe(out.length);
  return out;
}

describe("explanation-wire", () => {
  it("writes exactly what the generated Explanation encoder writes for the same explanation", () => {
    const next = random(7);
    const special = [
      0,
      -0,
      1e-300,
      -1e300,
      Number.MIN_VALUE,
      Number.MAX_VALUE,
      0.5,
      -0.5,
      Number.NaN,
      Infinity,
      -Infinity,
    ];
    const explainer = new PredictionExplainer();
    for (let trial = 0; trial < 2_000; trial++) {
      const table = new Float64Array(FEATURE_COUNT);
      const vectors = new Float64Array(FEATURE_COUNT * 3);
      const offset = FEATURE_COUNT * (trial % 3);
      for (let i = 0; i < FEATURE_COUNT; i++) {
        table[i] = next() < 0.3 ? (special[Math.floor(next() * special.length)] ?? 0) : (next() - 0.5) * 8;
        vectors[offset + i] = next() < 0.2 ? 0 : next() * 500;
      }
      // Gender in the model's coding, both values, as the reader leaves it.
      vectors[offset + GENDER_POSITION] = next() < 0.5 ? GENDER_CODE.male : GENDER_CODE.female;
      const reference = next() < 0.1 ? 0 : (next() - 0.5) * 4;
      // Clip bounds on some features (a model with the clinical encoding), none on others
      // (one trained before it): counted values appear, some of them 0 or -0.
      const clip =
        trial % 4 === 0
          ? undefined
          : {
              lower: Float64Array.from({ length: FEATURE_COUNT }, () =>
                next() < 0.5 ? Number.NEGATIVE_INFINITY : next() < 0.2 ? 0 : next() * 300,
              ),
              upper: Float64Array.from({ length: FEATURE_COUNT }, () =>
                next() < 0.5 ? Number.POSITIVE_INFINITY : next() < 0.2 ? -0 : 300 + next() * 300,
              ),
            };
      const model = tableModel(table, reference, clip);
      const ours = wire(explainer, model, vectors, offset);
      const generated = Buffer.from(Explanation.encode(explainer.explain(model, vectors, offset)).finish());
      expect(ours.toString("hex")).toBe(generated.toString("hex"));
    }
  });

  it("orders contributions by size, largest first, and decodes to the contract's message", () => {
    const table = Float64Array.from({ length: FEATURE_COUNT }, (_, i) => (i % 2 === 0 ? i : -2 * i));
    const vectors = Float64Array.from({ length: FEATURE_COUNT }, (_, i) => i + 1);
    vectors[GENDER_POSITION] = GENDER_CODE.male;
    const decoded = Explanation.decode(wire(new PredictionExplainer(), tableModel(table, 0.25), vectors, 0));
    expect(decoded.referenceLogOdds).toBe(0.25);
    // Gender comes back as the contract's enum number, not the model's 0/1 coding.
    expect(decoded.contributions.find((c) => c.name === "gender")?.value).toBe(Gender.GENDER_MALE);
    const sizes = decoded.contributions.map((c) => Math.abs(c.contribution));
    expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
    expect(decoded.contributions).toHaveLength(FEATURE_COUNT);
    expect(decoded.contributions.reduce((sum, c) => sum + c.contribution, 0)).toBeCloseTo(
      table.reduce((sum, c) => sum + c, 0),
      12,
    );
  });

  it("says what a clipped value counted as, and nothing for a value read as given", () => {
    const table = new Float64Array(FEATURE_COUNT).fill(0.1);
    const vectors = Float64Array.from({ length: FEATURE_COUNT }, () => 5);
    vectors[GENDER_POSITION] = GENDER_CODE.female;
    const clip = {
      lower: new Float64Array(FEATURE_COUNT).fill(Number.NEGATIVE_INFINITY),
      upper: new Float64Array(FEATURE_COUNT).fill(Number.POSITIVE_INFINITY),
    };
    clip.upper[FEATURE_COUNT - 1] = 2.5; // read as 2.5
    clip.lower[FEATURE_COUNT - 2] = 6; // read as 6
    clip.lower[FEATURE_COUNT - 3] = 4; // 5 is within: read as given
    const counted = (model: ServingModel): Record<string, number | undefined> =>
      Object.fromEntries(
        Explanation.decode(wire(new PredictionExplainer(), model, vectors, 0)).contributions.map((c) => [
          c.name,
          c.countedValue,
        ]),
      );
    const clipped = counted(tableModel(table, 0, clip));
    expect(clipped[FEATURES[FEATURE_COUNT - 1]?.name ?? ""]).toBe(2.5);
    expect(clipped[FEATURES[FEATURE_COUNT - 2]?.name ?? ""]).toBe(6);
    expect(Object.values(clipped).filter((value) => value !== undefined)).toHaveLength(2);
    // A model without bounds (trained before the clinical encoding) never says "counts as".
    expect(Object.values(counted(tableModel(table, 0))).every((value) => value === undefined)).toBe(true);
  });
});
