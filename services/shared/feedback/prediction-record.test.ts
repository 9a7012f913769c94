import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { FEATURE_COUNT } from "../features/feature-schema.js";
import { FeedbackTokenError } from "./feedback-token-error.js";
import { FeedbackTokenSigner } from "./feedback-token.js";
import {
  MAX_RECORD_BYTES,
  RECORD_FORMAT_VERSION,
  RECORD_FORMAT_WITH_PRINCIPAL,
  RECORD_FORMAT_WITH_SITE,
  UUID_BYTES,
  encodeModelVersion,
  encodePrincipal,
  parseUuid,
  readPredictionRecord,
  recordLength,
  writePredictionRecord,
} from "./prediction-record.js";

function written(modelVersion = "v7", principal = ""): { body: Buffer; id: string; features: Float64Array } {
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
    encodePrincipal(principal),
  );
  expect(length).toBe(recordLength(version.length, Buffer.byteLength(principal)));
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
      principal: "",
    });
  });

  it("appends the principal in format 2 and reads it back; format 1 records read as no principal", () => {
    const principal = "https://idp.test/realms/h|dr.alice@example.org";
    const { body, id } = written("v7", principal);
    expect(body[0]).toBe(RECORD_FORMAT_WITH_PRINCIPAL);
    const tail = recordLength(2);
    expect(body.readUInt16LE(tail)).toBe(principal.length);
    expect(body.subarray(tail + 2).toString("utf8")).toBe(principal);
    expect(readPredictionRecord(body)).toMatchObject({ predictionId: id, modelVersion: "v7", principal });
    expect(readPredictionRecord(written("v7").body).principal).toBe("");
  });

  it("refuses format 2 bodies whose principal is missing, empty, too long or cut", () => {
    const { body } = written("v7", "iss|sub");
    const tail = recordLength(2);
    expect(malformed(body.subarray(0, tail))).toMatch(/too short for its principal/);
    const empty = Buffer.from(body);
    empty.writeUInt16LE(0, tail);
    expect(malformed(empty)).toMatch(/principal length is invalid/);
    const huge = Buffer.from(body);
    huge.writeUInt16LE(60_000, tail);
    expect(malformed(huge)).toMatch(/principal length is invalid/);
    expect(malformed(body.subarray(0, body.length - 1))).toMatch(/length does not match/);
    // A format 1 record relabelled as format 2 (the principal stripped) is refused too.
    const relabelled = Buffer.from(written("v7").body);
    relabelled[0] = RECORD_FORMAT_WITH_PRINCIPAL;
    expect(malformed(relabelled)).toMatch(/malformed/);
    expect(() => encodePrincipal("x".repeat(513))).toThrow("principal must be at most 512 bytes, got 513");
  });

  it("refuses bodies that are short, of another format or of the wrong length, as malformed", () => {
    const { body } = written();
    expect(malformed(body.subarray(0, 20))).toBe("malformed: feedback_token is malformed: it is too short");
    const otherFormat = Buffer.from(body);
    otherFormat[0] = RECORD_FORMAT_WITH_SITE + 1;
    expect(malformed(otherFormat)).toBe(
      `malformed: feedback_token is malformed: unknown token format ${RECORD_FORMAT_WITH_SITE + 1}`,
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

describe("the site in a record (format 3)", () => {
  it("round-trips a site with and without a principal; the default site writes the older formats", () => {
    const signer = new FeedbackTokenSigner(Buffer.alloc(32, 7));
    const base = {
      predictionId: "0b7c6f1e-3a52-4c8e-9d41-5e2f7a9b1c3d",
      modelVersion: "v3",
      features: new Float64Array(FEATURE_COUNT).fill(1.5),
      probability: 0.4,
      diagnosis: 2,
      issuedAtMs: Date.now(),
    };
    for (const principal of ["", "https://idp|alice"]) {
      const record = signer.verify(signer.sign({ ...base, principal, site: "clinic-a" }));
      expect(record.site).toBe("clinic-a");
      expect(record.principal).toBe(principal);
      const body = Buffer.from(
        signer.sign({ ...base, principal, site: "clinic-a" }).split(".")[0] ?? "",
        "base64url",
      );
      expect(body[0]).toBe(RECORD_FORMAT_WITH_SITE);
    }
    const plain = signer.sign({ ...base, site: "default" });
    expect(Buffer.from(plain.split(".")[0] ?? "", "base64url")[0]).toBe(RECORD_FORMAT_VERSION);
    expect(signer.verify(plain).site).toBeUndefined();
    expect(() => signer.sign({ ...base, site: "Clinic A" })).toThrow(/site/);
  });
});
