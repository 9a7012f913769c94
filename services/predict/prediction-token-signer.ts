import { createTokenMac } from "../shared/feedback/feedback-token.js";
import { DEFAULT_SITE } from "../shared/sites/site-name.js";
import { HMAC_SHA256_BYTES, type HmacSha256 } from "../shared/feedback/hmac-sha256.js";
import {
  MAX_RECORD_BYTES,
  UUID_BYTES,
  encodeModelVersion,
  encodePrincipal,
  encodeSite,
  parseUuid,
  writePredictionRecord,
} from "../shared/feedback/prediction-record.js";

/**
 * Signs feedback tokens on PredictService's hot path. The tokens are exactly those of the
 * shared FeedbackTokenSigner.sign (same record writer and MAC from services/shared/feedback,
 * same base64url; prediction-token-signer.test.ts compares them byte for byte, so
 * RetrainService verifies them unchanged), made without per-token allocation beyond the
 * strings: the record is written into one reused buffer straight from the scoring buffer,
 * and the version's bytes are encoded once per version. PredictBatch signs one token per
 * patient, so a per-token allocation or createHmac call would cap it well below target.
 */
export class PredictionTokenSigner {
  private readonly hmac: HmacSha256;
  /** The record of the last signRecord call. */
  readonly record = Buffer.allocUnsafeSlow(MAX_RECORD_BYTES);
  /** The HMAC-SHA256 of the last signRecord call. */
  readonly mac = Buffer.allocUnsafeSlow(HMAC_SHA256_BYTES);
  private readonly uuid = new Uint8Array(UUID_BYTES);
  /** The last version signed for and its UTF-8 bytes (checked once per version). */
  private versionText: string | undefined;
  private versionBytes: Buffer = Buffer.alloc(0);
  /** The last principal signed for and its UTF-8 bytes (a caller's token is reused across calls). */
  private principalText = "";
  private principalBytes: Buffer = Buffer.alloc(0);
  /** The last site signed for and its bytes. */
  private siteText = DEFAULT_SITE;
  private siteBytes: Buffer = Buffer.alloc(0);

  constructor(key: Uint8Array) {
    this.hmac = createTokenMac(key);
  }

  /**
   * The token for one answer: `predictionId` (a UUID string), the serving version, the raw
   * schema vector at vectors[offset .. offset + FEATURE_COUNT), the probability, the
   * liver.v1.Diagnosis number, the issue time in Unix milliseconds and the caller's
   * principal ("" when unauthenticated).
   */
  sign(
    predictionId: string,
    modelVersion: string,
    vectors: Float64Array,
    offset: number,
    probability: number,
    diagnosis: number,
    issuedAtMs: number,
    principal = "",
    site = DEFAULT_SITE,
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
      principal,
      site,
    );
    return `${this.record.toString("base64url", 0, length)}.${this.mac.toString("base64url")}`;
  }

  /**
   * Writes the record of one answer into `record` (returning its length, recordLength of the
   * version's and the principal's bytes) and its HMAC into `mac`, for callers that encode the token themselves
   * (PredictBatch writes it straight into the response bytes). uuid[uuidOffset .. +16) holds
   * the prediction id's bytes. Both buffers are reused by the next call.
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
    principal = "",
    site = DEFAULT_SITE,
  ): number {
    const length = writePredictionRecord(
      this.record,
      uuid,
      uuidOffset,
      this.encodedVersion(modelVersion),
      vectors,
      offset,
      probability,
      diagnosis,
      issuedAtMs,
      this.encodedPrincipal(principal),
      this.encodedSite(site),
    );
    this.hmac.digestInto(this.record, length, this.mac, 0);
    return length;
  }

  /** The UTF-8 bytes of `principal` as records carry it (empty for ""). */
  encodedPrincipal(principal: string): Buffer {
    if (principal !== this.principalText) {
      this.principalBytes = encodePrincipal(principal);
      this.principalText = principal;
    }
    return this.principalBytes;
  }

  /** The bytes of `site` as records carry it (empty for the default site). */
  encodedSite(site: string): Buffer {
    if (site !== this.siteText) {
      this.siteBytes = encodeSite(site);
      this.siteText = site;
    }
    return this.siteBytes;
  }

  private encodedVersion(modelVersion: string): Buffer {
    if (modelVersion !== this.versionText) {
      this.versionBytes = encodeModelVersion(modelVersion);
      this.versionText = modelVersion;
    }
    return this.versionBytes;
  }
}
