import { HoldoutScheme } from "../gen/liver/v1/model.js";
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Diagnosis } from "../gen/liver/v1/patient.js";
import {
  Explanation,
  ModelSource,
  PredictBatchResponse,
  PredictResponse,
} from "../gen/liver/v1/predict_service.js";
import { FEATURE_COUNT } from "../shared/features/feature-schema.js";
import { checkPlausibility } from "../shared/features/plausibility-checks.js";
import { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import { BatchResponseWriter, DEFAULT_BATCH_CONTENTS, writeBase64Url } from "./batch-response-writer.js";
import { PredictionExplainer } from "./prediction-explainer.js";
import { PredictionTokenSigner } from "./prediction-token-signer.js";
import type { ServingModel } from "./serving-model.js";

/** A model whose probability is the first feature, so tests choose the answers. */
function echoModel(version: string, threshold = 0.5): ServingModel {
  return {
    version,
    sha256: "0".repeat(64),
    threshold,
    metrics: {
      rocAuc: 0.75,
      accuracy: 0.7,
      logLoss: 0.5,
      brierScore: 0.2,
      threshold,
      confusionMatrix: undefined,
      holdoutRows: 10,
      holdoutScheme: "lab-profile-v1",
      holdoutSchemeKind: HoldoutScheme.HOLDOUT_SCHEME_LAB_PROFILE_V1,
      holdoutFingerprint: "",
      calibration: undefined,
    },
    trainedOnSyntheticData: false,
    source: ModelSource.MODEL_SOURCE_RETRAIN_SERVICE,
    loadedAt: new Date(),
    backend: "cpu",
    inputProfile: undefined,
    score: (vectors, offset) => vectors[offset] ?? Number.NaN,
    // Contribution of feature i: its value minus i, so tests see zeros, signs and an order.
    explain: (vectors, offset, contributions) => {
      for (let i = 0; i < FEATURE_COUNT; i++) contributions[i] = (vectors[offset + i] ?? 0) - i;
      return (vectors[offset] ?? 0) - 0.5;
    },
  };
}

function rows(probabilities: readonly number[]): Float64Array {
  const vectors = new Float64Array(probabilities.length * FEATURE_COUNT);
  probabilities.forEach((p, i) => {
    vectors[i * FEATURE_COUNT] = p;
    for (let j = 1; j < FEATURE_COUNT; j++) vectors[i * FEATURE_COUNT + j] = i * 10 + j + 0.25;
  });
  return vectors;
}

describe("BatchResponseWriter", () => {
  it("writes canonical PredictBatchResponse bytes whose tokens verify and record each answer", () => {
    const key = randomBytes(32);
    const writer = new BatchResponseWriter(new PredictionTokenSigner(key));
    const probabilities = [0.1, 0.5, 0.9999, 0, 1, 0.4999999];
    const vectors = rows(probabilities);
    const principals = ["", "https://idp.test|alice", `https://idp.test|${"é".repeat(200)}`];
    for (const [n, version] of ["v1", "v123456", `v${"9".repeat(60)}`].entries()) {
      const principal = principals[n] ?? "";
      const outcome = writer.write(
        echoModel(version),
        vectors,
        probabilities.length,
        1_700_000_000_000,
        DEFAULT_BATCH_CONTENTS,
        principal,
      );
      if (!outcome.ok) throw new Error("refused");
      const bytes = outcome.response.bytes;
      const decoded = PredictBatchResponse.decode(bytes);
      // Canonical: the generated encoder writes the same bytes for the decoded message.
      expect(Buffer.from(PredictBatchResponse.encode(decoded).finish()).equals(bytes)).toBe(true);
      expect(decoded.modelVersion).toBe(version);
      expect(outcome.liverDisease).toBe(3);
      const verifier = new FeedbackTokenSigner(key);
      decoded.results.forEach((result, i) => {
        expect(result.probability).toBe(probabilities[i]);
        expect(result.diagnosis).toBe(
          (probabilities[i] ?? 0) >= 0.5
            ? Diagnosis.DIAGNOSIS_LIVER_DISEASE
            : Diagnosis.DIAGNOSIS_NO_LIVER_DISEASE,
        );
        expect(result.modelVersion).toBe(version);
        expect(result.threshold).toBe(0.5);
        expect(result.predictionId).toMatch(
          /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
        );
        expect(verifier.verify(result.feedbackToken, 1_700_000_000_000)).toEqual({
          predictionId: result.predictionId,
          modelVersion: version,
          features: vectors.slice(i * FEATURE_COUNT, (i + 1) * FEATURE_COUNT),
          probability: probabilities[i],
          diagnosis: result.diagnosis,
          issuedAtMs: 1_700_000_000_000,
          principal,
        });
      });
    }
  });

  it("leaves tokens out and adds explanations when asked, in canonical bytes", () => {
    const key = randomBytes(32);
    const writer = new BatchResponseWriter(new PredictionTokenSigner(key));
    const model = echoModel("v12");
    // Row 0 has a probability of 0 and, with echoModel's explain, zero contributions; the
    // second row a reference of exactly 0 (probability 0.5), gender code 0 (female), -0 values.
    const probabilities = [0, 0.5, 0.9, 0.25];
    const vectors = rows(probabilities);
    for (let j = 1; j < FEATURE_COUNT; j++) vectors[j] = j;
    vectors[FEATURE_COUNT + 1] = 0;
    vectors[FEATURE_COUNT + 4] = -0;
    vectors[2 * FEATURE_COUNT + 1] = 1;
    for (const contents of [
      { explanations: true, feedbackTokens: true },
      { explanations: true, feedbackTokens: false },
      { explanations: false, feedbackTokens: false },
    ]) {
      const outcome = writer.write(model, vectors, probabilities.length, 1_700_000_000_000, contents);
      if (!outcome.ok) throw new Error("refused");
      const bytes = outcome.response.bytes;
      const decoded = PredictBatchResponse.decode(bytes);
      expect(Buffer.from(PredictBatchResponse.encode(decoded).finish()).equals(bytes)).toBe(true);
      const explainer = new PredictionExplainer();
      decoded.results.forEach((result, i) => {
        expect(result.probability).toBe(probabilities[i]);
        expect(result.feedbackToken === "").toBe(!contents.feedbackTokens);
        // What Predict's generated encoder sends for the same explanation (proto3 sends -0 as 0).
        const viaGenerated = Explanation.decode(
          Explanation.encode(explainer.explain(model, vectors, i * FEATURE_COUNT)).finish(),
        );
        expect(result.explanation).toEqual(contents.explanations ? viaGenerated : undefined);
      });
      const first = decoded.results[1]?.explanation;
      if (contents.explanations) {
        // Gender is reported as the Gender enum number the client sent (code 0 = female = 2).
        expect(first?.contributions.find((c) => c.name === "gender")?.value).toBe(2);
        expect(decoded.results[2]?.explanation?.contributions.find((c) => c.name === "gender")?.value).toBe(
          1,
        );
        const sizes = first?.contributions.map((c) => Math.abs(c.contribution)) ?? [];
        expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
        expect(sizes).toHaveLength(FEATURE_COUNT);
      }
    }
  });

  it("adds plausibility warnings to exactly the rows whose values contradict each other, in canonical bytes", () => {
    const writer = new BatchResponseWriter(new PredictionTokenSigner(randomBytes(32)));
    const plausible = [0.4, 1, 0.9, 0.3, 120, 30, 28, 7, 4, 1.33];
    const vectors = new Float64Array(4 * FEATURE_COUNT);
    for (let row = 0; row < 4; row++) vectors.set(plausible, row * FEATURE_COUNT);
    vectors[FEATURE_COUNT + 3] = 5; // row 1: direct bilirubin 5 > total 0.9
    vectors[2 * FEATURE_COUNT] = 0; // row 2: probability 0, albumin 9 > total proteins 2
    vectors[2 * FEATURE_COUNT + 7] = 2;
    vectors[2 * FEATURE_COUNT + 8] = 9;
    vectors[3 * FEATURE_COUNT + 9] = 2.9; // row 3: A/G 2.9 with albumin 4 and proteins 7
    for (const contents of [
      { explanations: false, feedbackTokens: true },
      { explanations: true, feedbackTokens: false },
    ]) {
      const outcome = writer.write(echoModel("v3"), vectors, 4, 1_700_000_000_000, contents);
      if (!outcome.ok) throw new Error("refused");
      const bytes = outcome.response.bytes;
      const decoded = PredictBatchResponse.decode(bytes);
      expect(Buffer.from(PredictBatchResponse.encode(decoded).finish()).equals(bytes)).toBe(true);
      expect(decoded.results.map((r) => r.warnings.map((w) => w.fields))).toEqual([
        [],
        [["direct_bilirubin", "total_bilirubin"]],
        [["albumin", "total_proteins"]],
        [["albumin_globulin_ratio", "albumin", "total_proteins"]],
      ]);
      decoded.results.forEach((result, i) =>
        expect(result.warnings).toEqual(
          checkPlausibility(vectors, i * FEATURE_COUNT).map((w) => ({ ...w, fields: [...w.fields] })),
        ),
      );
      expect(decoded.results[1]?.warnings[0]?.message).toBe(
        "Direct bilirubin 5 mg/dL is higher than Total bilirubin 0.9 mg/dL, but direct bilirubin is part of the total: one of them is probably mis-entered.",
      );
    }
  });

  it("writes Predict's answer (writeOne) as the one entry of a batch, alone, in canonical bytes", () => {
    const key = randomBytes(32);
    const writer = new BatchResponseWriter(new PredictionTokenSigner(key));
    const implausible = [0.7, 1, 0.9, 5, 120, 30, 28, 7, 4, 1.33]; // direct bilirubin 5 > total 0.9
    const principal = `https://idp.test|${"é".repeat(100)}`;
    for (const [probability, version, vector] of [
      [0.7, "v1", implausible],
      [0, `v-ünï-${"9".repeat(50)}`, rows([0])],
      [0.2, "v2", rows([0.2])],
    ] as const) {
      for (const contents of [
        { explanations: true, feedbackTokens: true },
        { explanations: false, feedbackTokens: true },
      ]) {
        const model = echoModel(version);
        const outcome = writer.writeOne(
          model,
          Float64Array.from(vector),
          1_700_000_000_000,
          contents,
          principal,
          "clinic-a",
        );
        if (!outcome.ok) throw new Error("refused");
        const bytes = outcome.response.bytes;
        const decoded = PredictResponse.decode(bytes);
        expect(Buffer.from(PredictResponse.encode(decoded).finish()).equals(bytes)).toBe(true);
        expect(decoded.probability).toBe(probability);
        expect(decoded.modelVersion).toBe(version);
        expect(outcome.liverDisease).toBe(probability >= 0.5 ? 1 : 0);
        expect(decoded.explanation).toEqual(
          contents.explanations
            ? Explanation.decode(
                Explanation.encode(
                  new PredictionExplainer().explain(model, Float64Array.from(vector), 0),
                ).finish(),
              )
            : undefined,
        );
        expect(decoded.warnings).toEqual(
          checkPlausibility(Float64Array.from(vector), 0).map((w) => ({ ...w, fields: [...w.fields] })),
        );
        expect(new FeedbackTokenSigner(key).verify(decoded.feedbackToken, 1_700_000_000_000)).toMatchObject({
          predictionId: decoded.predictionId,
          principal,
          site: "clinic-a",
        });
      }
    }
    expect(
      writer.writeOne(echoModel("v1"), rows([Number.NaN]), 0, DEFAULT_BATCH_CONTENTS, "", "default"),
    ).toEqual({
      ok: false,
      badRow: 0,
    });
  });

  it("never repeats a prediction id, across pool refills", () => {
    const writer = new BatchResponseWriter(new PredictionTokenSigner(randomBytes(32)));
    const ids = new Set<string>();
    const vectors = rows(Array.from({ length: 1_000 }, () => 0.3));
    for (let batch = 0; batch < 10; batch++) {
      const outcome = writer.write(echoModel("v1"), vectors, 1_000, Date.now());
      if (!outcome.ok) throw new Error("refused");
      for (const result of PredictBatchResponse.decode(outcome.response.bytes).results)
        ids.add(result.predictionId);
    }
    expect(ids.size).toBe(10_000);
  });

  it("takes its randomness from the injected source (the CSPRNG by default)", () => {
    const writer = new BatchResponseWriter(new PredictionTokenSigner(randomBytes(32)), (buffer) =>
      buffer.fill(0xff),
    );
    const outcome = writer.write(echoModel("v1"), rows([0.2]), 1, Date.now());
    if (!outcome.ok) throw new Error("refused");
    expect(PredictBatchResponse.decode(outcome.response.bytes).results[0]?.predictionId).toBe(
      "ffffffff-ffff-4fff-bfff-ffffffffffff",
    );
  });

  it("answers nothing when the model scores a row outside [0, 1]", () => {
    const writer = new BatchResponseWriter(new PredictionTokenSigner(randomBytes(32)));
    expect(writer.write(echoModel("v1"), rows([0.2, Number.NaN, 0.4]), 3, Date.now())).toEqual({
      ok: false,
      badRow: 1,
    });
    expect(writer.write(echoModel("v1"), rows([1.5]), 1, Date.now())).toEqual({ ok: false, badRow: 0 });
  });
});

describe("writeBase64Url", () => {
  it("equals Buffer#toString('base64url') for every length", () => {
    for (let length = 0; length <= 200; length++) {
      const src = randomBytes(length);
      const out = Buffer.alloc(300);
      const end = writeBase64Url(src, length, out, 7);
      expect(out.toString("latin1", 7, end)).toBe(src.toString("base64url"));
    }
  });
});
