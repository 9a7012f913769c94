import { timingSafeEqual } from "node:crypto";
import { FEATURE_COUNT } from "../features/feature-schema.js";
import { FeedbackTokenError } from "./feedback-token-error.js";
import { HMAC_SHA256_BYTES, HmacSha256 } from "./hmac-sha256.js";
import {
  UUID_BYTES,
  encodeModelVersion,
  encodePrincipal,
  parseUuid,
  readPredictionRecord,
  recordLength,
  writePredictionRecord,
  encodeSite,
  type PredictionRecord,
} from "./prediction-record.js";
import { DEFAULT_SITE } from "../sites/site-name.js";

/** Smallest key accepted: HMAC-SHA256's block-strength guidance. */
export const MIN_KEY_BYTES = 32;
/** Tokens older than this are refused by default: feedback belongs to a fresh consultation. */
export const DEFAULT_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;
/** Upper bound on a token's length; SubmitFeedback refuses longer strings before decoding. */
export const MAX_TOKEN_LENGTH = 4096;

/**
 * The MAC of every feedback token, keyed with `key` after checking its length. Both signers
 * (this module's and PredictService's hot-path one) get theirs here, so they cannot disagree
 * on the algorithm or on which keys are acceptable.
 */
export function createTokenMac(key: Uint8Array): HmacSha256 {
  if (key.byteLength < MIN_KEY_BYTES) {
    throw new Error(
      `feedback signing key has ${key.byteLength} bytes; at least ${MIN_KEY_BYTES} are required`,
    );
  }
  return new HmacSha256(key);
}

/**
 * Signs and verifies feedback tokens: base64url(binary record) "." base64url(HMAC-SHA256).
 * Binary, not JSON, so a token stays about 200 characters and signing stays cheap. The
 * record layout is prediction-record.ts's.
 */
export class FeedbackTokenSigner {
  private readonly hmac: HmacSha256;
  private readonly uuid = new Uint8Array(UUID_BYTES);

  constructor(
    key: Uint8Array,
    private readonly ttlMs = DEFAULT_TOKEN_TTL_MS,
  ) {
    this.hmac = createTokenMac(key);
  }

  /** The token for a prediction; without `principal`, one made without authentication. */
  sign(record: Omit<PredictionRecord, "principal"> & { readonly principal?: string }): string {
    const version = encodeModelVersion(record.modelVersion);
    if (record.features.length !== FEATURE_COUNT) {
      throw new Error(`expected ${FEATURE_COUNT} features, got ${record.features.length}`);
    }
    parseUuid(record.predictionId, this.uuid);
    const principal = encodePrincipal(record.principal ?? "");
    const site = encodeSite(record.site ?? DEFAULT_SITE);
    const body = Buffer.allocUnsafe(recordLength(version.length, principal.length, site.length));
    writePredictionRecord(
      body,
      this.uuid,
      0,
      version,
      record.features,
      0,
      record.probability,
      record.diagnosis,
      record.issuedAtMs,
      principal,
      site,
    );
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
    const record = readPredictionRecord(body);
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
    const out = Buffer.allocUnsafe(HMAC_SHA256_BYTES);
    this.hmac.digestInto(body, body.length, out, 0);
    return out;
  }
}

function decodeBase64Url(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  return Buffer.from(text, "base64url");
}
