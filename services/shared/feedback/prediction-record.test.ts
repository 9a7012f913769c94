import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { FEATURE_COUNT } from "../features/feature-schema.js";
import { FeedbackTokenError } from "./feedback-token-error.js";
import {
  MAX_RECORD_BYTES,
  RECORD_FORMAT_VERSION,
  UUID_BYTES,
  encodeModelVersion,
  parseUuid,
  readPredictionRecord,
  recordLength,
  writePredictionRecord,
} from "./prediction-record.js";

function written(modelVersion = "v7"): { body: Buffer; id: string; features: Float64Array } {
  const id = randomUUID();
  const features = Float64Array.from({ length: FEATURE_COUNT }, (_, i) => i * 1.5 + 0.25);
  const version = encodeModelVersion(modelVersion);
  const body = Buffer.alloc(MAX_RECORD_BYTES + 8);
  const length = writePredictionRecord(
    body,
    parseUuid(id, new Uint8Array(UUID_BYTES)),
    0,
    version,
    features,
    0,
    0.625,
    2,
    1_790_000_000_000,
  );
  expect(length).toBe(recordLength(version.length));
  return { body: body.subarray(0, length), id, features };
}

function malformed(body: Buffer): string {
  try {
    readPredictionRecord(body);
  } catch (error) {
    if (error instanceof FeedbackTokenError) return `${error.problem}: ${error.message}`;
    throw error;
  }
  return "accepted";
}

describe("prediction record layout", () => {
  it("reads back what it writes, with the format byte first and the fields at their offsets", () => {
    const { body, id, features } = written("v7");
    expect(body[0]).toBe(RECORD_FORMAT_VERSION);
    expect(body.readDoubleLE(1)).toBe(1_790_000_000_000);
    expect(body.readDoubleLE(9)).toBe(0.625);
    expect(body[17]).toBe(2);
    expect(body.subarray(18, 34).toString("hex")).toBe(id.replace(/-/g, ""));
    expect(body[34]).toBe(2);
    expect(body.subarray(35, 37).toString("utf8")).toBe("v7");
    expect(readPredictionRecord(body)).toEqual({
      predictionId: id,
      modelVersion: "v7",
      features,
      probability: 0.625,
      diagnosis: 2,
      issuedAtMs: 1_790_000_000_000,
    });
  });

  it("refuses bodies that are short, of another format or of the wrong length, as malformed", () => {
    const { body } = written();
    expect(malformed(body.subarray(0, 20))).toBe("malformed: feedback_token is malformed: it is too short");
    const otherFormat = Buffer.from(body);
    otherFormat[0] = RECORD_FORMAT_VERSION + 1;
    expect(malformed(otherFormat)).toBe(
      `malformed: feedback_token is malformed: unknown token format ${RECORD_FORMAT_VERSION + 1}`,
    );
    expect(malformed(body.subarray(0, body.length - 1))).toBe(
      "malformed: feedback_token is malformed: its length does not match its contents",
    );
  });

  it("refuses model versions the length byte cannot carry", () => {
    expect(() => encodeModelVersion("")).toThrow("model version must be 1 to 64 bytes, got 0");
    expect(() => encodeModelVersion("é".repeat(33))).toThrow("model version must be 1 to 64 bytes, got 66");
  });
});
