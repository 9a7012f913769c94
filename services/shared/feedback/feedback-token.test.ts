import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { FeedbackTokenError } from "./feedback-token-error.js";
import { FeedbackTokenSigner } from "./feedback-token.js";
import type { PredictionRecord } from "./prediction-record.js";
import { loadOrCreateSigningKey, parseSigningKey } from "./signing-key.js";

function record(overrides: Partial<PredictionRecord> = {}): PredictionRecord {
  return {
    predictionId: randomUUID(),
    modelVersion: "v12",
    features: Float64Array.from([45, 1, 0.9, 0.2, 187, 16, 18, 6.8, 3.3, 0.9]),
    probability: 0.734,
    diagnosis: 1,
    issuedAtMs: 1_790_000_000_000,
    principal: "",
    ...overrides,
  };
}

function problemOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof FeedbackTokenError) return `${error.problem}: ${error.message}`;
    throw error;
  }
  return "accepted";
}

describe("FeedbackTokenSigner", () => {
  const signer = new FeedbackTokenSigner(randomBytes(32));

  it("round-trips every field of the record", () => {
    const original = record();
    const back = signer.verify(signer.sign(original), original.issuedAtMs + 1000);
    expect(back).toEqual(original);
  });

  it("MACs the record with standard HMAC-SHA256 (node:crypto agrees), so any language can verify", () => {
    const key = randomBytes(32);
    const [body = "", mac = ""] = new FeedbackTokenSigner(key).sign(record()).split(".");
    expect(mac).toBe(createHmac("sha256", key).update(Buffer.from(body, "base64url")).digest("base64url"));
  });

  it("refuses a token whose payload was altered, naming the signature", () => {
    const token = signer.sign(record());
    const [body = "", mac = ""] = token.split(".");
    const bytes = Buffer.from(body, "base64url");
    bytes[30] = (bytes[30] ?? 0) ^ 1;
    const altered = `${bytes.toString("base64url")}.${mac}`;
    expect(problemOf(() => signer.verify(altered, 1_790_000_000_000))).toMatch(/^bad-signature: .*altered/);
  });

  it("refuses a token signed with another key", () => {
    const other = new FeedbackTokenSigner(randomBytes(32));
    expect(problemOf(() => signer.verify(other.sign(record()), 1_790_000_000_000))).toMatch(/^bad-signature/);
  });

  it("refuses malformed tokens with a message", () => {
    for (const bad of ["", "abc", "a.b.c", "ab.", ".ab", "!!!.???", "x".repeat(5000)]) {
      expect(problemOf(() => signer.verify(bad))).toMatch(/^malformed: feedback_token/);
    }
  });

  it("refuses an expired token and says how old it is", () => {
    const issued = record({ issuedAtMs: 1_000_000 });
    expect(problemOf(() => signer.verify(signer.sign(issued), 1_000_000 + 25 * 3_600_000))).toMatch(
      /^expired: .*25\.0 h old/,
    );
  });

  it("refuses keys shorter than 32 bytes", () => {
    expect(() => new FeedbackTokenSigner(randomBytes(16))).toThrow(/at least 32/);
  });
});

describe("signing keys", () => {
  it("parses hex and base64 and refuses short keys", () => {
    const key = randomBytes(32);
    expect(parseSigningKey(key.toString("hex"))).toEqual(key);
    expect(parseSigningKey(key.toString("base64"))).toEqual(key);
    expect(() => parseSigningKey("abcd")).toThrow(/openssl rand -hex 32/);
  });

  it("creates one key per data folder, private, and reuses it", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "liver-key-"));
    const first = loadOrCreateSigningKey(dir, undefined);
    const second = loadOrCreateSigningKey(dir, undefined);
    expect(second).toEqual(first);
    const file = path.join(dir, "feedback-signing.key");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8").trim()).toBe(first.toString("hex"));
    const env = randomBytes(32);
    expect(loadOrCreateSigningKey(dir, env.toString("hex"))).toEqual(env);
  });
});
