/**
 * Predict's answer to wire bytes in one exactly sized Buffer. The generated encoder forks a
 * BinaryWriter per nested message; this writes the same bytes (proto3: zero values left
 * out, fields in number order; predict-response-encoder.test.ts compares it with the
 * generated encoder), so clients see no difference. The explanation arrives already in wire
 * form (PredictionExplainer.encode) and is copied in.
 *
 * Why not the generated encoder (PredictResponse.encode with the explanation appended as
 * bytes, 10 lines): in-process it took 10.4-13.7 µs per answer against this one's 3.6-4.7 µs
 * (same run, load average ~16 on 2 cores), and Predict at 64 in flight is already at
 * 0.81-1.00 of bare grpc-js against a 0.85 target, so ~3-6 µs more per call would cost it.
 */
import type { PredictResponse } from "../gen/liver/v1/predict_service.js";
import { type EncodedExplanation, delimited, doubleField } from "./explanation-wire.js";
import { varintSize, writeVarint } from "./protobuf-varint.js";

/** A PredictResponse whose explanation is already encoded: what the Predict handler answers. */
export type PredictAnswer = Omit<PredictResponse, "explanation"> & {
  readonly explanation?: EncodedExplanation | undefined;
};

/**
 * Wire tags (field number << 3 | wire type) of PredictResponse, here and in
 * BatchResponseWriter (predict-response-fields.test.ts fails when a field is left out).
 */
export const TAG_PROBABILITY = 0x09; // 1, fixed64
export const TAG_DIAGNOSIS = 0x10; // 2, varint
export const TAG_MODEL_VERSION = 0x1a; // 3, length-delimited
export const TAG_PREDICTION_ID = 0x22; // 4
export const TAG_FEEDBACK_TOKEN = 0x2a; // 5
export const TAG_THRESHOLD = 0x31; // 6, fixed64
export const TAG_EXPLANATION = 0x3a; // 7, length-delimited

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

const stringField = (length: number): number => (length === 0 ? 0 : delimited(length));

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

/**
 * The wire bytes of `response`: what PredictResponse.encode writes for the same answer with
 * the explanation that `response.explanation` holds encoded.
 */
export function encodePredictResponse(response: PredictAnswer): Buffer {
  const version = utf8Length(response.modelVersion);
  const id = utf8Length(response.predictionId);
  const token = utf8Length(response.feedbackToken);
  const explanation = response.explanation?.bytes;
  // Any int32 can arrive in an enum field; it is written back as protobuf writes int32.
  const diagnosis: number = response.diagnosis;
  const explanationSize = explanation === undefined ? 0 : explanation.length;
  const total =
    doubleField(response.probability) +
    (diagnosis !== 0 ? 1 + int32Size(diagnosis) : 0) +
    stringField(version) +
    stringField(id) +
    stringField(token) +
    doubleField(response.threshold) +
    (explanation === undefined ? 0 : delimited(explanationSize));
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
    at += explanation.copy(out, at);
  }
  if (at !== total) throw new Error(`PredictResponse encoding wrote ${at} bytes; expected ${total}`);
  return out;
}
