import { MAX_PRINCIPAL_BYTES } from "../auth/caller.js";
import { DEFAULT_SITE, MAX_SITE_NAME_LENGTH, siteNameProblem } from "../sites/site-name.js";
import { FEATURE_COUNT } from "../features/feature-schema.js";
import { FeedbackTokenError } from "./feedback-token-error.js";

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
  /**
   * Who received the prediction: "issuer|subject" of the caller's verified access token, or
   * "" when PredictService ran without authentication. Feedback is accepted from them only.
   */
  readonly principal: string;
  /**
   * The site the prediction was made for (and whose calibration answered); its feedback
   * counts for that site only. Absent means DEFAULT_SITE, as in every token before sites.
   */
  readonly site?: string | undefined;
}

// The binary record inside every feedback token. This module is its only writer and reader:
// the shared FeedbackTokenSigner and PredictService's hot-path signer both write through
// writePredictionRecord, so a layout change here reaches every token.
//
//   offset  size  field
//   0       1     format version (RECORD_FORMAT_VERSION)
//   1       8     issuedAtMs, float64 LE
//   9       8     probability, float64 LE
//   17      1     diagnosis (liver.v1.Diagnosis number)
//   18      16    prediction id, the UUID's bytes
//   34      1     model version length n (1 to MAX_VERSION_BYTES)
//   35      n     model version, UTF-8
//   35+n    8*F   features in schema order, float64 LE (F = FEATURE_COUNT)
//
// Format 2 (a prediction made for an authenticated caller) appends the principal:
//
//   R       2     principal length p, uint16 LE (1 to MAX_PRINCIPAL_BYTES); R = 35+n+8*F
//   R+2     p     principal ("issuer|subject"), UTF-8
//
// Format 1 records carry no principal (read as ""): tokens issued without authentication,
// and every token issued before format 2 existed, stay valid.
//
// Format 3 (a prediction made for a site other than the default) carries both, the
// principal possibly empty:
//
//   R       2     principal length p, uint16 LE (0 to MAX_PRINCIPAL_BYTES)
//   R+2     p     principal, UTF-8
//   R+2+p   1     site length s (1 to MAX_SITE_NAME_LENGTH)
//   R+3+p   s     site name (ASCII)
//
// Formats 1 and 2 name no site and read as DEFAULT_SITE: tokens from before sites existed
// count for the default site, exactly the one whose calibration answered them.

/** Layout version of a record without a principal, the record's first byte. */
export const RECORD_FORMAT_VERSION = 1;
/** Layout version of a record carrying a principal. */
export const RECORD_FORMAT_WITH_PRINCIPAL = 2;
/** Layout version of a record naming a site (and a principal, possibly empty). */
export const RECORD_FORMAT_WITH_SITE = 3;
/** Bytes of a prediction id (a UUID) in the record. */
export const UUID_BYTES = 16;
/** Longest model version, in UTF-8 bytes, a record can carry (its length is one byte). */
export const MAX_VERSION_BYTES = 64;
const ISSUED_AT_AT = 1;
const PROBABILITY_AT = 9;
const DIAGNOSIS_AT = 17;
const UUID_AT = 18;
const VERSION_LENGTH_AT = UUID_AT + UUID_BYTES;
/** Bytes before the model version: format, issuedAt, probability, diagnosis, uuid, version length. */
const FIXED_BYTES = VERSION_LENGTH_AT + 1;
/** Size of the largest record, for writers that reuse one buffer. */
export const MAX_RECORD_BYTES =
  FIXED_BYTES + MAX_VERSION_BYTES + 8 * FEATURE_COUNT + 2 + MAX_PRINCIPAL_BYTES + 1 + MAX_SITE_NAME_LENGTH;

const EMPTY = Buffer.alloc(0);

/** Hex digit values by char code; -1 for anything else. */
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX["0123456789abcdef".charCodeAt(i)] = i;
  HEX["0123456789ABCDEF".charCodeAt(i)] = i;
}

/**
 * Length in bytes of the record for a model version of `versionBytes` UTF-8 bytes and a
 * principal of `principalBytes` (0: none, format 1).
 */
export function recordLength(versionBytes: number, principalBytes = 0, siteBytes = 0): number {
  return (
    FIXED_BYTES +
    versionBytes +
    8 * FEATURE_COUNT +
    (principalBytes === 0 && siteBytes === 0 ? 0 : 2 + principalBytes) +
    (siteBytes === 0 ? 0 : 1 + siteBytes)
  );
}

/** The UTF-8 bytes of a principal ("" for none), refused when the record cannot carry it. */
export function encodePrincipal(principal: string): Buffer {
  const bytes = Buffer.from(principal, "utf8");
  if (bytes.length > MAX_PRINCIPAL_BYTES) {
    throw new Error(`principal must be at most ${MAX_PRINCIPAL_BYTES} bytes, got ${bytes.length}`);
  }
  return bytes;
}

/** The bytes a record carries for `site`: empty for DEFAULT_SITE (formats 1 and 2), else its name. */
export function encodeSite(site: string): Buffer {
  if (site === DEFAULT_SITE) return EMPTY;
  const problem = siteNameProblem(site);
  if (problem !== undefined) throw new Error(`site ${problem}`);
  return Buffer.from(site, "ascii");
}

/** The UTF-8 bytes of a model version, refused when the record cannot carry it. */
export function encodeModelVersion(modelVersion: string): Buffer {
  const bytes = Buffer.from(modelVersion, "utf8");
  if (bytes.length === 0 || bytes.length > MAX_VERSION_BYTES) {
    throw new Error(`model version must be 1 to ${MAX_VERSION_BYTES} bytes, got ${bytes.length}`);
  }
  return bytes;
}

/** The 16 bytes of a UUID string (hyphens skipped, either case) into `out`, refusing anything else. */
export function parseUuid(uuid: string, out: Uint8Array): Uint8Array {
  let written = 0;
  let high = -1;
  for (let i = 0; i < uuid.length; i++) {
    const code = uuid.charCodeAt(i);
    if (code === 45) continue; // "-"
    const digit = code < 128 ? (HEX[code] as number) : -1;
    if (digit < 0) throw new Error(`prediction id ${uuid} is not a UUID`);
    if (high < 0) {
      high = digit;
    } else {
      if (written === UUID_BYTES) throw new Error(`prediction id ${uuid} is not a UUID`);
      out[written++] = (high << 4) | digit;
      high = -1;
    }
  }
  if (written !== UUID_BYTES || high >= 0) throw new Error(`prediction id ${uuid} is not a UUID`);
  return out;
}

/**
 * Writes one record into `out` from its parts as the hot path holds them (the id's bytes at
 * uuid[uuidOffset ..], the version already encoded, the features at vectors[vectorOffset ..])
 * and the principal's bytes (empty: none, a format 1 record), and returns its length,
 * recordLength(version.length, principal.length). `out` must have room for it.
 */
export function writePredictionRecord(
  out: Buffer,
  uuid: Uint8Array,
  uuidOffset: number,
  version: Buffer,
  vectors: Float64Array,
  vectorOffset: number,
  probability: number,
  diagnosis: number,
  issuedAtMs: number,
  principal: Buffer = EMPTY,
  site: Buffer = EMPTY,
): number {
  // Fields in layout order; each write returns the next field's offset.
  const format =
    site.length > 0
      ? RECORD_FORMAT_WITH_SITE
      : principal.length === 0
        ? RECORD_FORMAT_VERSION
        : RECORD_FORMAT_WITH_PRINCIPAL;
  let at = out.writeUInt8(format, 0);
  at = out.writeDoubleLE(issuedAtMs, at);
  at = out.writeDoubleLE(probability, at);
  at = out.writeUInt8(diagnosis, at);
  for (let i = 0; i < UUID_BYTES; i++) out[at + i] = uuid[uuidOffset + i] as number;
  at += UUID_BYTES;
  at = out.writeUInt8(version.length, at);
  at += version.copy(out, at);
  for (let i = 0; i < FEATURE_COUNT; i++) at = out.writeDoubleLE(vectors[vectorOffset + i] as number, at);
  if (principal.length > 0 || site.length > 0) {
    at = out.writeUInt16LE(principal.length, at);
    at += principal.copy(out, at);
  }
  if (site.length > 0) {
    at = out.writeUInt8(site.length, at);
    at += site.copy(out, at);
  }
  return at;
}

/** The record in a token's body, or a "malformed" FeedbackTokenError saying what is wrong with it. */
export function readPredictionRecord(body: Buffer): PredictionRecord {
  const fail = (why: string): never => {
    throw new FeedbackTokenError("malformed", `feedback_token is malformed: ${why}`);
  };
  if (body.length < FIXED_BYTES) fail("it is too short");
  const format = body.readUInt8(0);
  if (
    format !== RECORD_FORMAT_VERSION &&
    format !== RECORD_FORMAT_WITH_PRINCIPAL &&
    format !== RECORD_FORMAT_WITH_SITE
  ) {
    fail(`unknown token format ${format}`);
  }
  const issuedAtMs = body.readDoubleLE(ISSUED_AT_AT);
  const probability = body.readDoubleLE(PROBABILITY_AT);
  const diagnosis = body.readUInt8(DIAGNOSIS_AT);
  const hex = body.subarray(UUID_AT, UUID_AT + UUID_BYTES).toString("hex");
  const predictionId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  const versionLength = body.readUInt8(VERSION_LENGTH_AT);
  const principalAt = recordLength(versionLength);
  let principal = "";
  let site = DEFAULT_SITE;
  if (format === RECORD_FORMAT_WITH_SITE) {
    if (body.length < principalAt + 3) fail("it is too short for its principal and site");
    const principalLength = body.readUInt16LE(principalAt);
    if (principalLength > MAX_PRINCIPAL_BYTES) fail("its principal length is invalid");
    const siteAt = principalAt + 2 + principalLength;
    if (body.length < siteAt + 1) fail("it is too short for its site");
    const siteLength = body.readUInt8(siteAt);
    if (body.length !== siteAt + 1 + siteLength) fail("its length does not match its contents");
    principal = body.subarray(principalAt + 2, siteAt).toString("utf8");
    site = body.subarray(siteAt + 1).toString("latin1");
    if (siteNameProblem(site) !== undefined || site === DEFAULT_SITE) fail("its site name is invalid");
  } else if (format === RECORD_FORMAT_WITH_PRINCIPAL) {
    if (body.length < principalAt + 2) fail("it is too short for its principal");
    const principalLength = body.readUInt16LE(principalAt);
    if (principalLength === 0 || principalLength > MAX_PRINCIPAL_BYTES)
      fail("its principal length is invalid");
    if (body.length !== recordLength(versionLength, principalLength))
      fail("its length does not match its contents");
    principal = body.subarray(principalAt + 2, principalAt + 2 + principalLength).toString("utf8");
  } else if (body.length !== principalAt) {
    fail("its length does not match its contents");
  }
  const modelVersion = body.subarray(FIXED_BYTES, FIXED_BYTES + versionLength).toString("utf8");
  const featuresAt = FIXED_BYTES + versionLength;
  const features = new Float64Array(FEATURE_COUNT);
  for (let i = 0; i < FEATURE_COUNT; i++) features[i] = body.readDoubleLE(featuresAt + 8 * i);
  const record = { predictionId, modelVersion, features, probability, diagnosis, issuedAtMs, principal };
  return site === DEFAULT_SITE ? record : { ...record, site };
}
