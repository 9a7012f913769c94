/**
 * liver.v1.Explanation in wire form, written straight from PredictionExplainer's typed
 * arrays. Predict and PredictBatch both answer through here (BatchResponseWriter), so an explanation never
 * becomes the eleven JS objects of the generated message on the serving path (they cost
 * more than computing it). The bytes are what Explanation.encode writes for the same
 * values (explanation-wire.test.ts compares them).
 */
import { FeatureContribution } from "../gen/liver/v1/predict_service.js";
import { FEATURES, FEATURE_COUNT, GENDER_CODE, GENDER_ENUM } from "../shared/features/feature-schema.js";
import { varintSize, writeVarint } from "./protobuf-varint.js";
import type { ValueClip } from "./serving-model.js";

const TAG_REFERENCE_LOG_ODDS = 0x09; // Explanation.reference_log_odds = 1, fixed64
const TAG_CONTRIBUTIONS = 0x12; // Explanation.contributions = 2, length-delimited
const TAG_CONTRIBUTION_VALUE = 0x11; // FeatureContribution.value = 2, fixed64
const TAG_CONTRIBUTION = 0x19; // FeatureContribution.contribution = 3, fixed64
const TAG_COUNTED_VALUE = 0x21; // FeatureContribution.counted_value = 4, fixed64 (optional)

/** Schema position of gender, whose given value is reported as its enum number. */
const GENDER_POSITION = FEATURES.findIndex((spec) => spec.kind === "gender");

/** The PatientFeatures field names, in schema order. */
export const FEATURE_NAMES: readonly string[] = FEATURES.map((spec) => spec.name);

/**
 * The value a client gave at schema position `i` of the raw vector at `offset`: the number
 * itself, except gender, which the vector holds in the model's coding and the answer reports
 * as the liver.v1.Gender number the client sent.
 */
export function givenValue(vectors: Float64Array, offset: number, i: number): number {
  const value = vectors[offset + i] as number;
  if (i !== GENDER_POSITION) return value;
  return value === GENDER_CODE.male ? GENDER_ENUM.MALE : GENDER_ENUM.FEMALE;
}

/** Encoded size of a length-delimited field with a 1-byte tag and `length` bytes of content. */
export const delimited = (length: number): number => 1 + varintSize(length) + length;

/** Encoded size of a double field (proto3 leaves a 0 out; -0 too, as the generated code does). */
export const doubleField = (value: number): number => (value !== 0 ? 9 : 0);

/**
 * Each feature's name field (tag, length, UTF-8), in schema order: what the generated encoder
 * writes for a FeatureContribution with only its name set.
 */
const NAME_FIELDS = FEATURE_NAMES.map((name) =>
  Buffer.from(FeatureContribution.encode(FeatureContribution.fromPartial({ name })).finish()),
);

/** No clipping: every value read as given (a model without the clinical encoding). */
export const NO_CLIP: ValueClip = {
  lower: new Float64Array(FEATURE_COUNT).fill(Number.NEGATIVE_INFINITY),
  upper: new Float64Array(FEATURE_COUNT).fill(Number.POSITIVE_INFINITY),
};

/**
 * The value the model read at schema position `i` when it differs from the raw value (a
 * clipped lab), else undefined: FeatureContribution.counted_value.
 */
export function countedValue(source: ExplanationSource, i: number): number | undefined {
  const value = source.vectors[source.vectorAt + i] as number;
  const counted = Math.min(Math.max(value, source.clip.lower[i] as number), source.clip.upper[i] as number);
  return counted === value ? undefined : counted;
}

/** Encoded size of an optional double field: present whenever set, even at 0. */
const optionalDoubleField = (value: number | undefined): number => (value === undefined ? 0 : 9);

/** Where one explanation's numbers sit, in which arrays (a batch's rows share the arrays). */
export interface ExplanationSource {
  readonly reference: number;
  /** Contributions in schema order, from `contributionsAt`. */
  readonly contributions: Float64Array;
  readonly contributionsAt: number;
  /** Schema positions by decreasing |contribution|, from `orderAt`. */
  readonly order: Uint8Array;
  readonly orderAt: number;
  /** The raw schema vector the explanation is of, at `vectorAt`. */
  readonly vectors: Float64Array;
  readonly vectorAt: number;
  /** The bounds the model read the vector within (ServingModel.clip). */
  readonly clip: ValueClip;
}

/** Size of one FeatureContribution's content (name, value, contribution, counted value). */
function contributionSize(source: ExplanationSource, i: number): number {
  return (
    (NAME_FIELDS[i] as Buffer).length +
    doubleField(givenValue(source.vectors, source.vectorAt, i)) +
    doubleField(source.contributions[source.contributionsAt + i] as number) +
    optionalDoubleField(countedValue(source, i))
  );
}

/** Encoded size of the Explanation message (its content, without a field tag or length). */
export function explanationSize(source: ExplanationSource): number {
  let size = doubleField(source.reference);
  for (let i = 0; i < FEATURE_COUNT; i++) size += delimited(contributionSize(source, i));
  return size;
}

/** Writes the Explanation message's content at `at`, contributions largest first; returns the end. */
export function writeExplanation(source: ExplanationSource, out: Buffer, at: number): number {
  if (source.reference !== 0) {
    out[at++] = TAG_REFERENCE_LOG_ODDS;
    at = out.writeDoubleLE(source.reference, at);
  }
  for (let k = 0; k < FEATURE_COUNT; k++) {
    const i = source.order[source.orderAt + k] as number;
    const value = givenValue(source.vectors, source.vectorAt, i);
    const contribution = source.contributions[source.contributionsAt + i] as number;
    const counted = countedValue(source, i);
    out[at++] = TAG_CONTRIBUTIONS;
    at = writeVarint(out, contributionSize(source, i), at);
    at += (NAME_FIELDS[i] as Buffer).copy(out, at);
    if (value !== 0) {
      out[at++] = TAG_CONTRIBUTION_VALUE;
      at = out.writeDoubleLE(value, at);
    }
    if (contribution !== 0) {
      out[at++] = TAG_CONTRIBUTION;
      at = out.writeDoubleLE(contribution, at);
    }
    if (counted !== undefined) {
      out[at++] = TAG_COUNTED_VALUE;
      at = out.writeDoubleLE(counted, at);
    }
  }
  return at;
}
