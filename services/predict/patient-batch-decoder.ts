import {
  FEATURES,
  FEATURE_COUNT,
  type FieldViolation,
  GENDER_CODE,
  GENDER_ENUM,
  type PatientInput,
  validatePatient,
} from "../shared/features/feature-schema.js";

/** PatientFeatures field numbers (patient.proto) to schema positions; gender is field 2. */
const FIELD_TO_POSITION = new Int8Array(16).fill(-1);
const POSITION_TO_FIELD = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] as const;
const GENDER_FIELD = 2;
/** PredictBatchRequest.patients. */
const PATIENTS_FIELD = 1;
/** PredictBatchRequest.include_explanations (bool). */
const EXPLANATIONS_FIELD = 2;
/** PredictBatchRequest.omit_feedback_tokens (bool). */
const OMIT_TOKENS_FIELD = 3;

/** Largest PredictBatch accepted (the contract says 1 to 10,000). */
export const MAX_BATCH_PATIENTS = 10_000;

const SCHEMA_NAMES = FEATURES.map((spec) => spec.name);
const GENDER_POSITION = FEATURES.findIndex((spec) => spec.kind === "gender");
/** Inclusive bounds per schema position (unused for gender). */
const MIN = Float64Array.from(FEATURES, (spec) => (spec.kind === "numeric" ? spec.min : 0));
const MAX = Float64Array.from(FEATURES, (spec) => (spec.kind === "numeric" ? spec.max : 0));
// Field numbers follow the schema order: age 1, gender 2, total_bilirubin 3, ... (checked below).
POSITION_TO_FIELD.forEach((field, position) => (FIELD_TO_POSITION[field] = position));
if (
  SCHEMA_NAMES.join() !==
  "age,gender,total_bilirubin,direct_bilirubin,alkaline_phosphatase,alanine_aminotransferase,aspartate_aminotransferase,total_proteins,albumin,albumin_globulin_ratio"
) {
  throw new Error(
    "patient-batch-decoder: the feature schema's order no longer matches patient.proto's field numbers",
  );
}

/**
 * A PredictBatchRequest decoded straight into typed arrays: per patient, the raw values in
 * schema order (gender as its enum number) and a bit per present field. No object per
 * patient is made, which at 1,000 patients per call is most of what the generated decoder
 * allocates.
 */
export class DecodedPatientBatch {
  constructor(
    /** Number of patients. */
    readonly count: number,
    /** count × FEATURE_COUNT raw values in schema order; gender holds the enum number. */
    readonly values: Float64Array,
    /** Bit i set when field at schema position i was present on the wire. */
    readonly present: Uint16Array,
    /** PredictBatchRequest.include_explanations. */
    readonly includeExplanations = false,
    /** PredictBatchRequest.omit_feedback_tokens. */
    readonly omitFeedbackTokens = false,
  ) {}

  /**
   * Writes row `row` as the schema vector (model gender coding) into out[offset ..] and
   * returns true, or false when a value is missing, NaN, infinite, out of range or an
   * unknown enum: exactly the checks of readPatientVector.
   */
  readVector(row: number, out: Float64Array, offset: number): boolean {
    const mask = this.present[row] as number;
    const base = row * FEATURE_COUNT;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const value = this.values[base + i] as number;
      if (i === GENDER_POSITION) {
        // Absent means GENDER_UNSPECIFIED (0), which is refused like any unknown number.
        if (value === GENDER_ENUM.MALE) out[offset + i] = GENDER_CODE.male;
        else if (value === GENDER_ENUM.FEMALE) out[offset + i] = GENDER_CODE.female;
        else return false;
      } else {
        // NaN fails both comparisons; infinities fail the range.
        if ((mask & (1 << i)) === 0 || !(value >= (MIN[i] as number) && value <= (MAX[i] as number)))
          return false;
        out[offset + i] = value;
      }
    }
    return true;
  }

  /** Every problem with row `row`, in the shared schema's words, fields prefixed with `prefix`. */
  violations(row: number, prefix: string): FieldViolation[] {
    const mask = this.present[row] as number;
    const base = row * FEATURE_COUNT;
    const input: { -readonly [K in keyof PatientInput]: PatientInput[K] } = {};
    FEATURES.forEach((spec, i) => {
      if ((mask & (1 << i)) === 0) return;
      const value = this.values[base + i] as number;
      if (spec.kind === "gender") input.gender = value;
      else input[spec.key] = value;
    });
    return validatePatient(input, prefix);
  }
}

/** Bytes that are not a valid PredictBatchRequest (grpc-js then answers INTERNAL, as for the generated decoder). */
export class WireFormatError extends Error {
  constructor(message: string) {
    super(`PredictBatchRequest is not valid protobuf: ${message}`);
    this.name = "WireFormatError";
  }
}

/** Reads protobuf wire data from a Buffer; every read is bounds-checked. */
class WireReader {
  at: number;

  constructor(
    readonly bytes: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.at = start;
  }

  /** A varint as a non-negative number (up to 2^53; longer ones keep their low 32 bits exact). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.at >= this.end) throw new WireFormatError("a varint runs past the end");
      const byte = this.bytes[this.at++] as number;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
    throw new WireFormatError("a varint is longer than 10 bytes");
  }

  /** A varint as int32, as protobuf reads enums (negative values are sign-extended on the wire). */
  int32(): number {
    let low = 0;
    for (let i = 0; i < 10; i++) {
      if (this.at >= this.end) throw new WireFormatError("a varint runs past the end");
      const byte = this.bytes[this.at++] as number;
      if (i < 5) low |= (byte & 0x7f) << (7 * i);
      if (byte < 0x80) return low | 0;
    }
    throw new WireFormatError("a varint is longer than 10 bytes");
  }

  double(): number {
    if (this.at + 8 > this.end) throw new WireFormatError("a double runs past the end");
    const value = this.bytes.readDoubleLE(this.at);
    this.at += 8;
    return value;
  }

  /** Skips a field of `wireType` (groups included). */
  skip(wireType: number, field: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.advance(this.varint());
        return;
      case 3:
        for (;;) {
          const tag = this.varint();
          if ((tag & 7) === 4) {
            if (tag >>> 3 !== field)
              throw new WireFormatError(`group ${field} ends with the tag of ${tag >>> 3}`);
            return;
          }
          this.skip(tag & 7, tag >>> 3);
        }
      case 5:
        this.advance(4);
        return;
      default:
        throw new WireFormatError(`wire type ${wireType} of field ${field} is not valid`);
    }
  }

  advance(count: number): void {
    if (this.at + count > this.end) throw new WireFormatError("a field runs past the end");
    this.at += count;
  }
}

/**
 * Decodes PredictBatchRequest bytes. Unknown fields are skipped and repeated scalars keep the
 * last value, as protobuf requires, so every message the generated decoder reads means the
 * same here (patient-batch-decoder.test.ts compares them). A first pass counts the patients
 * so the arrays are allocated once, exactly sized; they are never shared between calls
 * (grpc-js may decode the next request before the previous handler runs). A batch over
 * MAX_BATCH_PATIENTS is counted, not decoded.
 */
export function decodePatientBatch(bytes: Buffer): DecodedPatientBatch {
  const count = countPatients(bytes);
  // Too many to serve: the handler refuses by count alone, so nothing is decoded (a 4 MiB
  // request of empty entries must not cost 160 MB of arrays).
  if (count > MAX_BATCH_PATIENTS)
    return new DecodedPatientBatch(count, new Float64Array(0), new Uint16Array(0));
  const values = new Float64Array(count * FEATURE_COUNT);
  const present = new Uint16Array(count);
  const reader = new WireReader(bytes, 0, bytes.length);
  let row = 0;
  let includeExplanations = false;
  let omitFeedbackTokens = false;
  while (reader.at < reader.end) {
    const tag = reader.varint();
    const field = tag >>> 3;
    const wireType = tag & 7;
    // A bool is any varint; non-zero is true (a field with another wire type is unknown).
    if (field === EXPLANATIONS_FIELD && wireType === 0) {
      includeExplanations = reader.varint() !== 0;
      continue;
    }
    if (field === OMIT_TOKENS_FIELD && wireType === 0) {
      omitFeedbackTokens = reader.varint() !== 0;
      continue;
    }
    if (field !== PATIENTS_FIELD || wireType !== 2) {
      reader.skip(wireType, field);
      continue;
    }
    const end = reader.varint() + reader.at;
    present[row] = decodePatient(new WireReader(bytes, reader.at, end), values, row * FEATURE_COUNT);
    reader.at = end;
    row++;
  }
  return new DecodedPatientBatch(count, values, present, includeExplanations, omitFeedbackTokens);
}

/** Patients in the message; also checks the top-level framing. */
function countPatients(bytes: Buffer): number {
  const reader = new WireReader(bytes, 0, bytes.length);
  let count = 0;
  while (reader.at < reader.end) {
    const tag = reader.varint();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === PATIENTS_FIELD && wireType === 2) {
      reader.advance(reader.varint());
      count++;
    } else {
      reader.skip(wireType, field);
    }
  }
  return count;
}

/** One PatientFeatures into values[base ..]; returns the presence bits. */
function decodePatient(reader: WireReader, values: Float64Array, base: number): number {
  let mask = 0;
  while (reader.at < reader.end) {
    const tag = reader.varint();
    const field = tag >>> 3;
    const wireType = tag & 7;
    const position = field < 16 ? (FIELD_TO_POSITION[field] as number) : -1;
    if (position >= 0 && field === GENDER_FIELD && wireType === 0) {
      values[base + position] = reader.int32();
      mask |= 1 << position;
    } else if (position >= 0 && field !== GENDER_FIELD && wireType === 1) {
      values[base + position] = reader.double();
      mask |= 1 << position;
    } else {
      reader.skip(wireType, field);
    }
  }
  return mask;
}
