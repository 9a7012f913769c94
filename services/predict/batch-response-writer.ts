import { randomFillSync } from "node:crypto";
import { DEFAULT_SITE } from "../shared/sites/site-name.js";
import { Diagnosis } from "../gen/liver/v1/patient.js";
import { FEATURE_COUNT } from "../shared/features/feature-schema.js";
import { checkPlausibility, hasImplausibleValues } from "../shared/features/plausibility-checks.js";
import { HMAC_SHA256_BYTES } from "../shared/feedback/hmac-sha256.js";
import { recordLength } from "../shared/feedback/prediction-record.js";
import type { PredictionTokenSigner } from "./prediction-token-signer.js";
import { PredictResponse } from "../gen/liver/v1/predict_service.js";
import { EncodedResponse } from "./predict-wire-codec.js";
import {
  type ExplanationSource,
  NO_CLIP,
  delimited,
  doubleField,
  explanationSize,
  writeExplanation,
} from "./explanation-wire.js";
import { PredictionExplainer } from "./prediction-explainer.js";
import type { ServingModel } from "./serving-model.js";
import { writeVarint } from "./protobuf-varint.js";

/**
 * Wire tags (field number << 3 | wire type) of PredictResponse, for Predict and each entry of
 * PredictBatch (predict-response-fields.test.ts fails when a field is left out).
 */
const TAG_PROBABILITY = 0x09; // 1, fixed64
const TAG_DIAGNOSIS = 0x10; // 2, varint
const TAG_MODEL_VERSION = 0x1a; // 3, length-delimited
const TAG_PREDICTION_ID = 0x22; // 4
const TAG_FEEDBACK_TOKEN = 0x2a; // 5
const TAG_THRESHOLD = 0x31; // 6, fixed64
const TAG_EXPLANATION = 0x3a; // 7, length-delimited
/** Wire tags of PredictBatchResponse. */
const TAG_RESULTS = 0x0a; // PredictBatchResponse.results = 1, length-delimited
const TAG_BATCH_VERSION = 0x12; // PredictBatchResponse.model_version = 2, length-delimited

const UUID_BYTES = 16;
const UUID_CHARS = 36;
const UUID_POOL = 4_096 * UUID_BYTES;
const DOT = 0x2e;
const HYPHEN = 0x2d;
const HEX_DIGITS = Buffer.from("0123456789abcdef", "latin1");
const BASE64URL_DIGITS = Buffer.from(
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
  "latin1",
);

/** Characters of unpadded base64url for `bytes` bytes. */
const base64UrlLength = (bytes: number): number => Math.ceil((bytes * 4) / 3);

const MAC_CHARS = base64UrlLength(HMAC_SHA256_BYTES);

/** What a batch came to: its bytes, or the index of a row the model scored outside [0, 1]. */
export type BatchOutcome =
  | { readonly ok: true; readonly response: EncodedResponse; readonly liverDisease: number }
  | { readonly ok: false; readonly badRow: number };

/** What PredictBatchRequest asked to be in every result besides the answer itself. */
export interface BatchContents {
  /** Each result's explanation (PredictBatchRequest.include_explanations). */
  readonly explanations: boolean;
  /** Each result's signed feedback token (not PredictBatchRequest.omit_feedback_tokens). */
  readonly feedbackTokens: boolean;
}

/** The default contents: tokens, no explanations. */
export const DEFAULT_BATCH_CONTENTS: BatchContents = { explanations: false, feedbackTokens: true };

/**
 * Scores a validated batch and writes the whole PredictBatchResponse in wire form, each
 * entry with a fresh random (v4) UUID and, unless left out, its signed feedback token and,
 * when asked, its explanation, in two passes over reused buffers into one exactly sized
 * Buffer. Nothing per patient becomes a JS string, nor an object unless it is explained: the
 * generated encoder in its place, measured, cost the 500,000 patients/s target (README,
 * "Measured": 422k against 509k token-free, mostly flattening randomUUID's strings). The
 * bytes are what the generated encoder would write for the same values
 * (batch-response-writer.test.ts checks that).
 */
export class BatchResponseWriter {
  private probabilities = new Float64Array(1_024);
  /** Encoded size of each entry's explanation message (0 without explanations). */
  private explanationSizes = new Int32Array(1_024);
  /** Per row: reference log-odds, then the contributions in schema order. */
  private explanations = new Float64Array(1_024 * (FEATURE_COUNT + 1));
  /** Per row: schema positions by decreasing |contribution|. */
  private orders = new Uint8Array(1_024 * FEATURE_COUNT);
  private readonly explainer = new PredictionExplainer();
  /** The bounds the current model reads its inputs within (ServingModel.clip). */
  private clip = NO_CLIP;
  private readonly uuids = Buffer.allocUnsafeSlow(UUID_POOL);
  private uuidAt = UUID_POOL;

  constructor(
    private readonly signer: PredictionTokenSigner,
    private readonly fillRandom: (buffer: Uint8Array) => void = (buffer) => randomFillSync(buffer),
  ) {}

  /**
   * Scores rows 0 .. count-1 of `vectors` with `model` and encodes the answers (what each
   * carries: `contents`), their tokens naming `principal` (the caller; "" when unauthenticated)
   * and `site` (whose calibration `model` answers with).
   */
  write(
    model: ServingModel,
    vectors: Float64Array,
    count: number,
    issuedAtMs: number,
    contents: BatchContents = DEFAULT_BATCH_CONTENTS,
    principal = "",
    site = DEFAULT_SITE,
  ): BatchOutcome {
    this.reserve(count);
    this.clip = model.clip ?? NO_CLIP;
    const probabilities = this.probabilities;
    const explain = contents.explanations;
    const tokens = contents.feedbackTokens;
    // Rows with implausible values and their PredictResponse.warnings bytes (rare: usually none).
    let warnings: Map<number, Buffer> | undefined;
    for (let i = 0; i < count; i++) {
      const p = model.score(vectors, i * FEATURE_COUNT);
      if (!(p >= 0 && p <= 1)) return { ok: false, badRow: i };
      probabilities[i] = p;
      if (explain) this.explainRow(model, vectors, i);
      if (hasImplausibleValues(vectors, i * FEATURE_COUNT)) {
        // Rare and short, so the generated encoder writes them: a PredictResponse with only
        // warnings set is exactly its warnings fields.
        const found = checkPlausibility(vectors, i * FEATURE_COUNT);
        const only = PredictResponse.fromPartial({
          warnings: found.map((w) => ({ ...w, fields: [...w.fields] })),
        });
        (warnings ??= new Map()).set(i, Buffer.from(PredictResponse.encode(only).finish()));
      }
    }
    const version = Buffer.from(model.version, "utf8");
    const recordBytes = recordLength(
      version.length,
      this.signer.encodedPrincipal(principal).length,
      this.signer.encodedSite(site).length,
    );
    const recordChars = base64UrlLength(recordBytes);
    const tokenLength = recordChars + 1 + MAC_CHARS;
    const threshold = model.threshold;
    // proto3 leaves out zero values: a probability of exactly 0, an explanation and warnings
    // change an entry's size. The sizing pass and the writing pass both use entrySize.
    const common =
      2 + // diagnosis: tag + 1 or 2
      delimited(version.length) +
      delimited(UUID_CHARS) +
      (tokens ? delimited(tokenLength) : 0) +
      doubleField(threshold);
    const entrySize = (row: number): number =>
      common +
      doubleField(probabilities[row] as number) +
      (explain ? delimited(this.explanationSizes[row] as number) : 0) +
      (warnings?.get(row)?.length ?? 0);
    let total = delimited(version.length);
    for (let i = 0; i < count; i++) total += delimited(entrySize(i));
    const out = Buffer.allocUnsafe(total);
    let at = 0;
    let liverDisease = 0;
    for (let i = 0; i < count; i++) {
      const probability = probabilities[i] as number;
      const diagnosis =
        probability >= threshold ? Diagnosis.DIAGNOSIS_LIVER_DISEASE : Diagnosis.DIAGNOSIS_NO_LIVER_DISEASE;
      if (diagnosis === Diagnosis.DIAGNOSIS_LIVER_DISEASE) liverDisease++;
      out[at++] = TAG_RESULTS;
      at = writeVarint(out, entrySize(i), at);
      if (probability !== 0) {
        out[at++] = TAG_PROBABILITY;
        at = out.writeDoubleLE(probability, at);
      }
      out[at++] = TAG_DIAGNOSIS;
      out[at++] = diagnosis;
      out[at++] = TAG_MODEL_VERSION;
      at = writeVarint(out, version.length, at);
      at += version.copy(out, at);
      const uuidAt = this.nextUuid();
      out[at++] = TAG_PREDICTION_ID;
      out[at++] = UUID_CHARS;
      at = writeUuid(this.uuids, uuidAt, out, at);
      if (tokens) {
        const signer = this.signer;
        signer.signRecord(
          this.uuids,
          uuidAt,
          model.version,
          vectors,
          i * FEATURE_COUNT,
          probability,
          diagnosis,
          issuedAtMs,
          principal,
          site,
        );
        out[at++] = TAG_FEEDBACK_TOKEN;
        at = writeVarint(out, tokenLength, at);
        at = writeBase64Url(signer.record, recordBytes, out, at);
        out[at++] = DOT;
        at = writeBase64Url(signer.mac, signer.mac.length, out, at);
      }
      if (threshold !== 0) {
        out[at++] = TAG_THRESHOLD;
        at = out.writeDoubleLE(threshold, at);
      }
      if (explain) at = this.writeExplanation(vectors, i, out, at);
      at += warnings?.get(i)?.copy(out, at) ?? 0;
    }
    out[at++] = TAG_BATCH_VERSION;
    at = writeVarint(out, version.length, at);
    at += version.copy(out, at);
    if (at !== total) throw new Error(`PredictBatchResponse encoding wrote ${at} bytes; expected ${total}`);
    return { ok: true, response: new EncodedResponse(out), liverDisease };
  }

  /**
   * Predict's answer: `write` for the one patient at the start of `vector`, as the
   * PredictResponse alone (the batch's only entry, without the PredictBatchResponse around it).
   */
  writeOne(
    model: ServingModel,
    vector: Float64Array,
    issuedAtMs: number,
    contents: BatchContents,
    principal: string,
    site: string,
  ): BatchOutcome {
    const outcome = this.write(model, vector, 1, issuedAtMs, contents, principal, site);
    if (!outcome.ok) return outcome;
    // The batch starts with its one entry: TAG_RESULTS, the entry's length as a varint, the
    // entry. Read by hand: a BinaryReader per answer cost 0.4-0.6 µs of Predict's ~2 µs here.
    const bytes = outcome.response.bytes;
    let at = 1;
    let length = 0;
    for (let scale = 1; ; scale *= 128) {
      const byte = bytes[at++] as number;
      length += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
    }
    const response = new EncodedResponse(bytes.subarray(at, at + length));
    return { ok: true, response, liverDisease: outcome.liverDisease };
  }

  private reserve(count: number): void {
    if (this.probabilities.length >= count) return;
    this.probabilities = new Float64Array(count);
    this.explanationSizes = new Int32Array(count);
    this.explanations = new Float64Array(count * (FEATURE_COUNT + 1));
    this.orders = new Uint8Array(count * FEATURE_COUNT);
  }

  /** Explains row `row` into the scratch arrays and records the Explanation message's encoded size. */
  private explainRow(model: ServingModel, vectors: Float64Array, row: number): void {
    const explainer = this.explainer;
    const reference = explainer.explainInto(model, vectors, row * FEATURE_COUNT);
    const base = row * (FEATURE_COUNT + 1);
    this.explanations[base] = reference;
    this.explanations.set(explainer.contributions, base + 1);
    this.orders.set(explainer.order, row * FEATURE_COUNT);
    this.explanationSizes[row] = explanationSize(this.pointAt(vectors, row));
  }

  /** Writes row `row`'s PredictResponse.explanation field from the scratch arrays. */
  private writeExplanation(vectors: Float64Array, row: number, out: Buffer, at: number): number {
    out[at++] = TAG_EXPLANATION;
    at = writeVarint(out, this.explanationSizes[row] as number, at);
    return writeExplanation(this.pointAt(vectors, row), out, at);
  }

  /** Row `row`'s stored explanation, where explanation-wire reads it. */
  private pointAt(vectors: Float64Array, row: number): ExplanationSource {
    return {
      reference: this.explanations[row * (FEATURE_COUNT + 1)] as number,
      contributions: this.explanations,
      contributionsAt: row * (FEATURE_COUNT + 1) + 1,
      order: this.orders,
      orderAt: row * FEATURE_COUNT,
      vectors,
      vectorAt: row * FEATURE_COUNT,
      clip: this.clip,
    };
  }

  /**
   * Offset in `uuids` of 16 fresh random bytes, with the version (4) and variant (10xx) bits
   * of RFC 9562 §5.4 set: a v4 UUID. The pool is refilled from the CSPRNG when used up.
   * Not crypto.randomUUID: its string, written into `out`, measured about 300 ns per id
   * against 60 ns here, on the token-free path the 500,000 results/s target holds.
   */
  private nextUuid(): number {
    if (this.uuidAt + UUID_BYTES > UUID_POOL) {
      this.fillRandom(this.uuids);
      this.uuidAt = 0;
    }
    const at = this.uuidAt;
    this.uuidAt += UUID_BYTES;
    const uuids = this.uuids;
    uuids[at + 6] = ((uuids[at + 6] as number) & 0x0f) | 0x40;
    uuids[at + 8] = ((uuids[at + 8] as number) & 0x3f) | 0x80;
    return at;
  }
}

/** The canonical 8-4-4-4-12 lower-case hex form of uuid[from .. from+16), as ASCII into `out`. */
function writeUuid(uuid: Uint8Array, from: number, out: Buffer, at: number): number {
  for (let i = 0; i < UUID_BYTES; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out[at++] = HYPHEN;
    const byte = uuid[from + i] as number;
    out[at++] = HEX_DIGITS[byte >>> 4] as number;
    out[at++] = HEX_DIGITS[byte & 0x0f] as number;
  }
  return at;
}

/**
 * Unpadded base64url (RFC 4648 §5) of src[0 .. length), as ASCII into `out`; what
 * Buffer#toString("base64url") gives, without a string per token (that and latin1Write
 * measured about 10% fewer signed PredictBatch results per second).
 */
export function writeBase64Url(src: Uint8Array, length: number, out: Uint8Array, at: number): number {
  let i = 0;
  for (; i + 2 < length; i += 3) {
    const n = ((src[i] as number) << 16) | ((src[i + 1] as number) << 8) | (src[i + 2] as number);
    out[at++] = BASE64URL_DIGITS[n >>> 18] as number;
    out[at++] = BASE64URL_DIGITS[(n >>> 12) & 63] as number;
    out[at++] = BASE64URL_DIGITS[(n >>> 6) & 63] as number;
    out[at++] = BASE64URL_DIGITS[n & 63] as number;
  }
  const rest = length - i;
  if (rest > 0) {
    const n = ((src[i] as number) << 16) | (rest === 2 ? (src[i + 1] as number) << 8 : 0);
    out[at++] = BASE64URL_DIGITS[n >>> 18] as number;
    out[at++] = BASE64URL_DIGITS[(n >>> 12) & 63] as number;
    if (rest === 2) out[at++] = BASE64URL_DIGITS[(n >>> 6) & 63] as number;
  }
  return at;
}
