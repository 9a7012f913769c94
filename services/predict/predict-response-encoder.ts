/**
 * PredictResponse to wire bytes in one exactly sized Buffer. The generated encoder forks a
 * BinaryWriter per nested message, and an explanation is eleven of them: about as much CPU
 * as the rest of a Predict answer. This writes the same bytes (proto3: zero values left
 * out, fields in number order; predict-response-encoder.test.ts compares it with the
 * generated encoder), so clients see no difference.
 */
import type { Explanation, FeatureContribution, PredictResponse } from "../gen/liver/v1/predict_service.js";
import { varintSize, writeVarint } from "./protobuf-varint.js";

const TAG_PROBABILITY = 0x09; // 1, fixed64
const TAG_DIAGNOSIS = 0x10; // 2, varint
const TAG_MODEL_VERSION = 0x1a; // 3, length-delimited
const TAG_PREDICTION_ID = 0x22; // 4
const TAG_FEEDBACK_TOKEN = 0x2a; // 5
const TAG_THRESHOLD = 0x31; // 6, fixed64
const TAG_EXPLANATION = 0x3a; // 7, length-delimited
const TAG_REFERENCE = 0x09; // Explanation.reference_log_odds = 1, fixed64
const TAG_CONTRIBUTIONS = 0x12; // Explanation.contributions = 2
const TAG_NAME = 0x0a; // FeatureContribution.name = 1
const TAG_VALUE = 0x11; // FeatureContribution.value = 2, fixed64
const TAG_CONTRIBUTION = 0x19; // FeatureContribution.contribution = 3, fixed64

/** An enum as protobuf writes int32: negative values take ten bytes (sign-extended). */
function int32Size(value: number): number {
  return value < 0 ? 10 : varintSize(value);
}

function writeInt32(out: Buffer, value: number, at: number): number {
  if (value >= 0) return writeVarint(out, value, at);
  // Two's complement over 64 bits: the low 32 bits, then 0xff... as the high part.
  let low = value >>> 0;
  for (let i = 0; i < 4; i++) {
    out[at++] = (low & 0x7f) | 0x80;
    low >>>= 7;
  }
  out[at++] = (low & 0x7f) | 0x70 | 0x80;
  for (let i = 0; i < 4; i++) out[at++] = 0xff;
  out[at++] = 0x01;
  return at;
}

const stringField = (length: number): number => (length === 0 ? 0 : 1 + varintSize(length) + length);

/**
 * UTF-8 length of `value`; for ASCII (ids, tokens, versions, feature names) a JS loop, which
 * for strings this short is several times cheaper than a call into Buffer's native code.
 */
function utf8Length(value: string): number {
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) >= 0x80) return Buffer.byteLength(value, "utf8");
  }
  return value.length;
}

/** Writes `value` (whose UTF-8 length is `length`) at `at`; returns the end. */
function writeUtf8(out: Buffer, value: string, length: number, at: number): number {
  if (length !== value.length) return at + out.write(value, at, length, "utf8");
  for (let i = 0; i < length; i++) out[at + i] = value.charCodeAt(i);
  return at + length;
}
const doubleField = (value: number): number => (value !== 0 ? 9 : 0);

/** Encoded size of each contribution (without its tag and length), then of the whole message. */
function explanationSizes(explanation: Explanation, names: number[], sizes: number[]): number {
  let size = doubleField(explanation.referenceLogOdds);
  for (const c of explanation.contributions) {
    const nameBytes = utf8Length(c.name);
    const entry = stringField(nameBytes) + doubleField(c.value) + doubleField(c.contribution);
    names.push(nameBytes);
    sizes.push(entry);
    size += 1 + varintSize(entry) + entry;
  }
  return size;
}

/** The wire bytes of `response`, identical to PredictResponse.encode(response).finish(). */
export function encodePredictResponse(response: PredictResponse): Buffer {
  const version = utf8Length(response.modelVersion);
  const id = utf8Length(response.predictionId);
  const token = utf8Length(response.feedbackToken);
  const names: number[] = [];
  const sizes: number[] = [];
  const explanation = response.explanation;
  // Any int32 can arrive in an enum field; it is written back as protobuf writes int32.
  const diagnosis: number = response.diagnosis;
  const explanationSize = explanation === undefined ? 0 : explanationSizes(explanation, names, sizes);
  const total =
    doubleField(response.probability) +
    (diagnosis !== 0 ? 1 + int32Size(diagnosis) : 0) +
    stringField(version) +
    stringField(id) +
    stringField(token) +
    doubleField(response.threshold) +
    (explanation === undefined ? 0 : 1 + varintSize(explanationSize) + explanationSize);
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  if (response.probability !== 0) {
    out[at++] = TAG_PROBABILITY;
    at = out.writeDoubleLE(response.probability, at);
  }
  if (diagnosis !== 0) {
    out[at++] = TAG_DIAGNOSIS;
    at = writeInt32(out, diagnosis, at);
  }
  const text = (tag: number, value: string, length: number): void => {
    if (length === 0) return;
    out[at++] = tag;
    at = writeVarint(out, length, at);
    at = writeUtf8(out, value, length, at);
  };
  text(TAG_MODEL_VERSION, response.modelVersion, version);
  text(TAG_PREDICTION_ID, response.predictionId, id);
  text(TAG_FEEDBACK_TOKEN, response.feedbackToken, token);
  if (response.threshold !== 0) {
    out[at++] = TAG_THRESHOLD;
    at = out.writeDoubleLE(response.threshold, at);
  }
  if (explanation !== undefined) {
    out[at++] = TAG_EXPLANATION;
    at = writeVarint(out, explanationSize, at);
    if (explanation.referenceLogOdds !== 0) {
      out[at++] = TAG_REFERENCE;
      at = out.writeDoubleLE(explanation.referenceLogOdds, at);
    }
    const contributions = explanation.contributions;
    for (let k = 0; k < contributions.length; k++) {
      const c = contributions[k] as FeatureContribution;
      out[at++] = TAG_CONTRIBUTIONS;
      at = writeVarint(out, sizes[k] as number, at);
      text(TAG_NAME, c.name, names[k] as number);
      if (c.value !== 0) {
        out[at++] = TAG_VALUE;
        at = out.writeDoubleLE(c.value, at);
      }
      if (c.contribution !== 0) {
        out[at++] = TAG_CONTRIBUTION;
        at = out.writeDoubleLE(c.contribution, at);
      }
    }
  }
  if (at !== total) throw new Error(`PredictResponse encoding wrote ${at} bytes; expected ${total}`);
  return out;
}
