import { randomBytes, randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { FEATURE_COUNT } from "../shared/features/feature-schema.js";
import { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import { PredictionTokenSigner } from "./prediction-token-signer.js";

describe("PredictionTokenSigner", () => {
  it("makes exactly the shared signer's tokens, which RetrainService's verify accepts", () => {
    const key = randomBytes(32);
    const shared = new FeedbackTokenSigner(key);
    const fast = new PredictionTokenSigner(key);
    const vectors = new Float64Array(FEATURE_COUNT * 50).map(() => Math.random() * 500);
    for (let i = 0; i < 50; i++) {
      const predictionId = randomUUID();
      const modelVersion = `v${1 + (i % 3) * 500}`;
      const features = vectors.slice(i * FEATURE_COUNT, (i + 1) * FEATURE_COUNT);
      const record = {
        predictionId,
        modelVersion,
        features,
        probability: Math.random(),
        diagnosis: 1 + (i % 2),
        issuedAtMs: Date.now() - i * 1_000,
        // Unauthenticated, and callers whose principal changes or repeats between calls.
        principal: ["", "https://idp.test|alice", "https://idp.test|bob"][i % 3] ?? "",
      };
      const token = fast.sign(
        predictionId,
        modelVersion,
        vectors,
        i * FEATURE_COUNT,
        record.probability,
        record.diagnosis,
        record.issuedAtMs,
        record.principal,
      );
      expect(token).toBe(shared.sign(record));
      expect(shared.verify(token)).toEqual(record);
    }
  });

  it("accepts upper-case UUIDs as the shared signer does, and refuses what is not a UUID", () => {
    const key = randomBytes(32);
    const fast = new PredictionTokenSigner(key);
    const features = new Float64Array(FEATURE_COUNT);
    const id = randomUUID().toUpperCase();
    expect(fast.sign(id, "v1", features, 0, 0.5, 1, 0)).toBe(
      new FeedbackTokenSigner(key).sign({
        predictionId: id,
        modelVersion: "v1",
        features,
        probability: 0.5,
        diagnosis: 1,
        issuedAtMs: 0,
      }),
    );
    for (const bad of ["", "not-a-uuid", `${randomUUID()}0`, randomUUID().slice(1), "g".repeat(32)]) {
      expect(() => fast.sign(bad, "v1", features, 0, 0.5, 1, 0)).toThrow(
        `prediction id ${bad} is not a UUID`,
      );
    }
  });

  it("refuses short keys and empty or overlong versions", () => {
    expect(() => new PredictionTokenSigner(randomBytes(16))).toThrow(
      "feedback signing key has 16 bytes; at least 32 are required",
    );
    const fast = new PredictionTokenSigner(randomBytes(32));
    const features = new Float64Array(FEATURE_COUNT);
    expect(() => fast.sign(randomUUID(), "", features, 0, 0.5, 1, 0)).toThrow(
      "model version must be 1 to 64 bytes, got 0",
    );
    expect(() => fast.sign(randomUUID(), "v".repeat(65), features, 0, 0.5, 1, 0)).toThrow(
      "model version must be 1 to 64 bytes, got 65",
    );
  });
});
