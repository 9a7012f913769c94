import { createHmac, timingSafeEqual } from "node:crypto";
import { FEATURE_COUNT } from "../features/feature-schema.js";

/**
 * What PredictService actually answered, as the feedback token carries it. Training rows
 * can only come from real predictions: RetrainService trusts nothing else in a feedback.
 */
export interface PredictionRecord {
  /** UUID of the prediction; one feedback per prediction. */
  readonly predictionId: string;
  readonly modelVersion: string;
  /** Raw feature vector in schema order with the model's gender coding. */
  readonly features: Float64Array;
  readonly probability: number;
  /** liver.v1.Diagnosis enum number (1 = liver disease, 2 = none). */
  readonly diagnosis: number;
  /** Issue time, Unix milliseconds. */
  readonly issuedAtMs: number;
}

/** Why a token was refused; services map kinds to gRPC status codes. */
export type TokenProblem = "malformed" | "bad-signature" | "expired";

/** A refused token, with a message a person can act on. */
export class FeedbackTokenError extends Error {
  constructor(
    readonly problem: TokenProblem,
    message: string,
  ) {
    super(message);
    this.name = "FeedbackTokenError";
  }
}

const FORMAT_VERSION = 1;
const UUID_BYTES = 16;
const MAX_VERSION_BYTES = 64;
/** Smallest key accepted: HMAC-SHA256's block-strength guidance. */
export const MIN_KEY_BYTES = 32;
/** Tokens older than this are refused by default: feedback belongs to a fresh consultation. */
export const DEFAULT_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;
/** Upper bound on a token's length; SubmitFeedback refuses longer strings before decoding. */
export const MAX_TOKEN_LENGTH = 4096;

/**
 * Signs and verifies feedback tokens: base64url(binary record) "." base64url(HMAC-SHA256).
 * Binary, not JSON, so a token stays about 200 characters and signing stays cheap.
 */
export class FeedbackTokenSigner {
  private readonly key: Buffer;

  constructor(
    key: Uint8Array,
    private readonly ttlMs = DEFAULT_TOKEN_TTL_MS,
  ) {
    if (key.byteLength < MIN_KEY_BYTES) {
      throw new Error(
        `feedback signing key has ${key.byteLength} bytes; at least ${MIN_KEY_BYTES} are required`,
      );
    }
    this.key = Buffer.from(key);
  }

  /** The token for a prediction. */
  sign(record: PredictionRecord): string {
    const body = encodeRecord(record);
    return `${body.toString("base64url")}.${this.mac(body).toString("base64url")}`;
  }

  /** The record inside a token, or a FeedbackTokenError saying what is wrong with it. */
  verify(token: string, nowMs = Date.now()): PredictionRecord {
    if (token.length > MAX_TOKEN_LENGTH) {
      throw new FeedbackTokenError(
        "malformed",
        `feedback_token is ${token.length} characters; at most ${MAX_TOKEN_LENGTH} are accepted`,
      );
    }
    const dot = token.indexOf(".");
    if (dot <= 0 || dot !== token.lastIndexOf(".") || dot === token.length - 1) {
      throw new FeedbackTokenError(
        "malformed",
        "feedback_token is malformed: expected two base64url parts joined by '.'; pass the token of a PredictResponse unchanged",
      );
    }
    const body = decodeBase64Url(token.slice(0, dot));
    const mac = decodeBase64Url(token.slice(dot + 1));
    if (body === undefined || mac === undefined) {
      throw new FeedbackTokenError(
        "malformed",
        "feedback_token is malformed: it is not base64url; pass the token of a PredictResponse unchanged",
      );
    }
    const expected = this.mac(body);
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) {
      throw new FeedbackTokenError(
        "bad-signature",
        "feedback_token signature does not match: the token was altered or was not issued by this deployment's PredictService",
      );
    }
    const record = decodeRecord(body);
    if (nowMs - record.issuedAtMs > this.ttlMs) {
      const ageHours = ((nowMs - record.issuedAtMs) / 3_600_000).toFixed(1);
      throw new FeedbackTokenError(
        "expired",
        `feedback_token expired: the prediction is ${ageHours} h old and feedback is accepted for ${this.ttlMs / 3_600_000} h; predict again and send feedback on the new answer`,
      );
    }
    return record;
  }

  private mac(body: Buffer): Buffer {
    return createHmac("sha256", this.key).update(body).digest();
  }
}

function decodeBase64Url(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  return Buffer.from(text, "base64url");
}

function encodeRecord(record: PredictionRecord): Buffer {
  const version = Buffer.from(record.modelVersion, "utf8");
  if (version.length === 0 || version.length > MAX_VERSION_BYTES) {
    throw new Error(`model version must be 1 to ${MAX_VERSION_BYTES} bytes, got ${version.length}`);
  }
  if (record.features.length !== FEATURE_COUNT) {
    throw new Error(`expected ${FEATURE_COUNT} features, got ${record.features.length}`);
  }
  const uuid = Buffer.from(record.predictionId.replace(/-/g, ""), "hex");
  if (uuid.length !== UUID_BYTES) throw new Error(`prediction id ${record.predictionId} is not a UUID`);
  const out = Buffer.allocUnsafe(1 + 8 + 8 + 1 + UUID_BYTES + 1 + version.length + 8 * FEATURE_COUNT);
  let at = out.writeUInt8(FORMAT_VERSION, 0);
  at = out.writeDoubleLE(record.issuedAtMs, at);
  at = out.writeDoubleLE(record.probability, at);
  at = out.writeUInt8(record.diagnosis, at);
  at += uuid.copy(out, at);
  at = out.writeUInt8(version.length, at);
  at += version.copy(out, at);
  for (let i = 0; i < FEATURE_COUNT; i++) at = out.writeDoubleLE(record.features[i] ?? Number.NaN, at);
  return out;
}

function decodeRecord(body: Buffer): PredictionRecord {
  const fail = (why: string): never => {
    throw new FeedbackTokenError("malformed", `feedback_token is malformed: ${why}`);
  };
  const fixed = 1 + 8 + 8 + 1 + UUID_BYTES + 1;
  if (body.length < fixed) fail("it is too short");
  if (body.readUInt8(0) !== FORMAT_VERSION) fail(`unknown token format ${body.readUInt8(0)}`);
  const issuedAtMs = body.readDoubleLE(1);
  const probability = body.readDoubleLE(9);
  const diagnosis = body.readUInt8(17);
  const hex = body.subarray(18, 18 + UUID_BYTES).toString("hex");
  const predictionId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  const versionLength = body.readUInt8(fixed - 1);
  if (body.length !== fixed + versionLength + 8 * FEATURE_COUNT)
    fail("its length does not match its contents");
  const modelVersion = body.subarray(fixed, fixed + versionLength).toString("utf8");
  const features = new Float64Array(FEATURE_COUNT);
  for (let i = 0; i < FEATURE_COUNT; i++) features[i] = body.readDoubleLE(fixed + versionLength + 8 * i);
  return { predictionId, modelVersion, features, probability, diagnosis, issuedAtMs };
}
