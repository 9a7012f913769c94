import { FEATURE_COUNT } from "../shared/features/feature-schema.js";
import { MIN_KEY_BYTES } from "../shared/feedback/feedback-token.js";
import { HmacSha256 } from "./hmac-sha256.js";

/** Record layout version; must equal the shared FeedbackTokenSigner's FORMAT_VERSION. */
const FORMAT_VERSION = 1;
const UUID_BYTES = 16;
const MAX_VERSION_BYTES = 64;
/** format, issuedAt, probability, diagnosis, uuid, version length. */
const FIXED_BYTES = 1 + 8 + 8 + 1 + UUID_BYTES + 1;
const MAX_RECORD_BYTES = FIXED_BYTES + MAX_VERSION_BYTES + 8 * FEATURE_COUNT;

/** Hex digit values by char code; -1 for anything else. */
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX["0123456789abcdef".charCodeAt(i)] = i;
  HEX["0123456789ABCDEF".charCodeAt(i)] = i;
}

/**
 * Signs feedback tokens on PredictService's hot path. The tokens are exactly those of the
 * shared FeedbackTokenSigner.sign (same binary record, same HMAC-SHA256, same base64url;
 * prediction-token-signer.test.ts compares them byte for byte, so RetrainService verifies
 * them unchanged), made without per-token allocation beyond the strings: the record is
 * written into one reused buffer straight from the scoring buffer, and the MAC comes from
 * HmacSha256's precomputed key state. PredictBatch signs one token per patient, and the
 * shared signer's ~2-4 µs per token alone would cap it below the 500,000 patients/s target.
 */
export class PredictionTokenSigner {
  private readonly hmac: HmacSha256;
  /** The record of the last signRecord call. */
  readonly record = Buffer.allocUnsafeSlow(MAX_RECORD_BYTES);
  /** The HMAC-SHA256 of the last signRecord call. */
  readonly mac = Buffer.allocUnsafeSlow(32);
  private readonly uuid = new Uint8Array(UUID_BYTES);
  /** The last version signed for and its UTF-8 bytes (checked once per version). */
  private versionText: string | undefined;
  private versionBytes = Buffer.alloc(0);

  constructor(key: Uint8Array) {
    if (key.byteLength < MIN_KEY_BYTES) {
      throw new Error(
        `feedback signing key has ${key.byteLength} bytes; at least ${MIN_KEY_BYTES} are required`,
      );
    }
    this.hmac = new HmacSha256(key);
  }

  /**
   * The token for one answer: `predictionId` (a UUID string), the serving version, the raw
   * schema vector at vectors[offset .. offset + FEATURE_COUNT), the probability, the
   * liver.v1.Diagnosis number and the issue time in Unix milliseconds.
   */
  sign(
    predictionId: string,
    modelVersion: string,
    vectors: Float64Array,
    offset: number,
    probability: number,
    diagnosis: number,
    issuedAtMs: number,
  ): string {
    const length = this.signRecord(
      parseUuid(predictionId, this.uuid),
      0,
      modelVersion,
      vectors,
      offset,
      probability,
      diagnosis,
      issuedAtMs,
    );
    return `${this.record.toString("base64url", 0, length)}.${this.mac.toString("base64url")}`;
  }

  /**
   * Writes the record of one answer into `record` (returning its length) and its HMAC into
   * `mac`, for callers that encode the token themselves (PredictBatch writes it straight into
   * the response bytes). uuid[uuidOffset .. +16) holds the prediction id's bytes. Both
   * buffers are reused by the next call.
   */
  signRecord(
    uuid: Uint8Array,
    uuidOffset: number,
    modelVersion: string,
    vectors: Float64Array,
    offset: number,
    probability: number,
    diagnosis: number,
    issuedAtMs: number,
  ): number {
    const record = this.record;
    const version = this.encodedVersion(modelVersion);
    let at = record.writeUInt8(FORMAT_VERSION, 0);
    at = record.writeDoubleLE(issuedAtMs, at);
    at = record.writeDoubleLE(probability, at);
    at = record.writeUInt8(diagnosis, at);
    for (let i = 0; i < UUID_BYTES; i++) record[at + i] = uuid[uuidOffset + i] as number;
    at += UUID_BYTES;
    at = record.writeUInt8(version.length, at);
    at += version.copy(record, at);
    for (let i = 0; i < FEATURE_COUNT; i++) at = record.writeDoubleLE(vectors[offset + i] as number, at);
    this.hmac.digestInto(record, at, this.mac, 0);
    return at;
  }

  /** Length in bytes of the record signRecord writes for a version of `versionBytes` bytes. */
  static recordLength(versionBytes: number): number {
    return FIXED_BYTES + versionBytes + 8 * FEATURE_COUNT;
  }

  private encodedVersion(modelVersion: string): Buffer {
    if (modelVersion !== this.versionText) {
      const bytes = Buffer.from(modelVersion, "utf8");
      if (bytes.length === 0 || bytes.length > MAX_VERSION_BYTES) {
        throw new Error(`model version must be 1 to ${MAX_VERSION_BYTES} bytes, got ${bytes.length}`);
      }
      this.versionText = modelVersion;
      this.versionBytes = bytes;
    }
    return this.versionBytes;
  }
}

/** The 16 bytes of a UUID string (hyphens skipped, either case) into `out`. */
function parseUuid(uuid: string, out: Uint8Array): Uint8Array {
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
