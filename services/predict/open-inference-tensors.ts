/**
 * The tabular convention of the Open Inference Protocol (KServe V2) for this model, as
 * MLServer's pandas codec uses it: one input tensor per PatientFeatures field, named like
 * the field, shape [N] ([N, 1] accepted), FP64 (FP32 accepted) for the numbers and BYTES
 * ("male"/"female") or INT32 (the liver.v1 Gender enum) for gender; typed `contents` or
 * `raw_input_contents`. Every value is checked by the shared feature schema, so a patient
 * sent this way is refused for exactly the reasons liver.v1 would refuse it.
 */
import {
  type InferParameter,
  type InferTensorContents,
  type ModelInferRequest,
  type ModelInferRequest_InferInputTensor,
  type ModelInferResponse_InferOutputTensor,
  type ModelMetadataResponse_TensorMetadata,
} from "../gen/open_inference_grpc.js";
import {
  FEATURES,
  FEATURE_COUNT,
  type FeatureSpec,
  type FieldViolation,
  GENDER_CODE,
  checkGender,
  checkNumeric,
  describeRange,
} from "../shared/features/feature-schema.js";
import { MAX_BATCH_PATIENTS } from "./patient-batch-decoder.js";

/** The one model this server serves, by its OIP name. */
export const OIP_MODEL_NAME = "liver-disease";

/** Output names. */
export const OUTPUT_PROBABILITY = "probability";
export const OUTPUT_DIAGNOSIS = "diagnosis";
export const OUTPUT_FEEDBACK_TOKEN = "feedback_token";
/** Prefix of the per-feature explanation outputs, e.g. "contribution_age". */
export const CONTRIBUTION_PREFIX = "contribution_";

/** Request parameters understood by ModelInfer (both bool). */
export const PARAM_OMIT_FEEDBACK_TOKENS = "omit_feedback_tokens";
export const PARAM_EXPLAIN = "explain";

/** BYTES values of the diagnosis output. */
export const DIAGNOSIS_LABELS = {
  liverDisease: "liver_disease",
  noLiverDisease: "no_liver_disease",
} as const;

/** BYTES values accepted for gender, and the model coding of each. */
const GENDER_LABELS: ReadonlyMap<string, number> = new Map([
  ["male", GENDER_CODE.male],
  ["female", GENDER_CODE.female],
]);

/** Most violations collected from one request (the error message shows 20 of them). */
const MAX_VIOLATIONS = 100;

const FEATURE_NAMES = FEATURES.map((spec) => spec.name);

/** Input tensor metadata, as ModelMetadata lists it. */
export const INPUT_METADATA: readonly ModelMetadataResponse_TensorMetadata[] = FEATURES.map((spec) => ({
  name: spec.name,
  datatype: spec.kind === "gender" ? "BYTES" : "FP64",
  shape: [-1],
}));

/** Output tensor metadata, as ModelMetadata lists it. */
export const OUTPUT_METADATA: readonly ModelMetadataResponse_TensorMetadata[] = [
  { name: OUTPUT_PROBABILITY, datatype: "FP64", shape: [-1] },
  { name: OUTPUT_DIAGNOSIS, datatype: "BYTES", shape: [-1] },
  { name: OUTPUT_FEEDBACK_TOKEN, datatype: "BYTES", shape: [-1] },
  ...FEATURES.map((spec) => ({ name: CONTRIBUTION_PREFIX + spec.name, datatype: "FP64", shape: [-1] })),
];

/** What the request's parameters ask for. */
export interface InferOptions {
  readonly feedbackTokens: boolean;
  readonly explain: boolean;
}

/** The validated patients of a ModelInfer request. */
export interface DecodedInferInputs {
  readonly count: number;
  /** Rows 0 .. count-1, each FEATURE_COUNT raw values in model order. */
  readonly vectors: Float64Array;
  /** Whether the request used raw_input_contents (the response answers the same way). */
  readonly raw: boolean;
}

/** Either the decoded inputs or every problem found, each naming its input. */
export type InferInputsResult =
  | ({ readonly ok: true } & DecodedInferInputs)
  | { readonly ok: false; readonly violations: FieldViolation[] };

class Violations {
  readonly list: FieldViolation[] = [];
  add(field: string, description: string): void {
    if (this.list.length < MAX_VIOLATIONS) this.list.push({ field, description });
  }
  get full(): boolean {
    return this.list.length >= MAX_VIOLATIONS;
  }
}

/** Reads the bool parameters of the request; a parameter of another type is a violation. */
export function readInferOptions(
  parameters: { readonly [key: string]: InferParameter },
  violations: FieldViolation[],
): InferOptions {
  const flag = (name: string): boolean => {
    const parameter = parameters[name];
    if (parameter === undefined) return false;
    if (parameter.boolParam === undefined) {
      violations.push({
        field: `parameters.${name}`,
        description: `parameter ${name} must be a bool_param (true or false)`,
      });
      return false;
    }
    return parameter.boolParam;
  };
  return { feedbackTokens: !flag(PARAM_OMIT_FEEDBACK_TOKENS), explain: flag(PARAM_EXPLAIN) };
}

/** N of a shape [N] or [N, 1], or undefined for any other shape. */
function rows(shape: readonly number[]): number | undefined {
  const n = shape[0];
  if (n === undefined || !Number.isSafeInteger(n)) return undefined;
  if (shape.length === 1 || (shape.length === 2 && shape[1] === 1)) return n;
  return undefined;
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function expectedTypes(spec: FeatureSpec): string {
  return spec.kind === "gender"
    ? "BYTES (male or female) or INT32 (1 male, 2 female)"
    : "FP64 (FP32 accepted)";
}

/** Bytes per element of a fixed-size datatype this codec reads. */
const ELEMENT_BYTES: Readonly<Record<string, number>> = { FP64: 8, FP32: 4, INT32: 4 };

/**
 * Decodes and validates the inputs of `request` into `scratch(count)` (a reusable buffer of
 * at least count * FEATURE_COUNT values): every feature present exactly once, same N
 * everywhere, an accepted datatype, contents of the right size, every value valid.
 */
export function decodeInferInputs(
  request: ModelInferRequest,
  scratch: (count: number) => Float64Array,
): InferInputsResult {
  const violations = new Violations();
  const raw = request.rawInputContents.length > 0;
  if (raw && request.rawInputContents.length !== request.inputs.length) {
    violations.add(
      "raw_input_contents",
      `raw_input_contents has ${request.rawInputContents.length} entries for ${request.inputs.length} inputs; send one per input, in the order of inputs`,
    );
  }
  const byFeature = new Map<string, number>();
  request.inputs.forEach((input, index) => {
    if (!FEATURE_NAMES.includes(input.name as (typeof FEATURE_NAMES)[number])) {
      violations.add(
        `inputs[${index}].name`,
        `input ${JSON.stringify(input.name.slice(0, 64))} is not an input of ${OIP_MODEL_NAME}; its inputs are ${FEATURE_NAMES.join(", ")}`,
      );
    } else if (byFeature.has(input.name)) {
      violations.add(`inputs[${index}].name`, `input ${input.name} is given more than once`);
    } else {
      byFeature.set(input.name, index);
    }
  });
  let count: number | undefined;
  let countFrom = "";
  for (const spec of FEATURES) {
    const index = byFeature.get(spec.name);
    if (index === undefined) {
      const what = spec.kind === "gender" ? "" : `, ${spec.label}, ${describeRange(spec)}`;
      violations.add(spec.name, `input ${spec.name} is missing (${expectedTypes(spec)}, shape [N]${what})`);
      continue;
    }
    const input = request.inputs[index] as ModelInferRequest_InferInputTensor;
    const n = rows(input.shape);
    if (n === undefined || n < 1 || n > MAX_BATCH_PATIENTS) {
      violations.add(
        spec.name,
        `input ${spec.name} has shape ${formatShape(input.shape)}; expected [N] (or [N, 1]) with N from 1 to ${MAX_BATCH_PATIENTS.toLocaleString("en-US")}`,
      );
    } else if (count === undefined) {
      count = n;
      countFrom = spec.name;
    } else if (n !== count) {
      violations.add(
        spec.name,
        `input ${spec.name} has ${n} rows but ${countFrom} has ${count}; every input needs the same N`,
      );
    }
    const accepted = spec.kind === "gender" ? ["BYTES", "INT32"] : ["FP64", "FP32"];
    if (!accepted.includes(input.datatype)) {
      violations.add(
        spec.name,
        `input ${spec.name} has datatype ${JSON.stringify(input.datatype.slice(0, 32))}; expected ${expectedTypes(spec)}`,
      );
    }
    if (raw && input.contents !== undefined && hasContents(input.contents)) {
      violations.add(
        spec.name,
        `input ${spec.name} has contents while raw_input_contents is set; use one or the other for all inputs`,
      );
    }
  }
  if (violations.list.length > 0 || count === undefined) return { ok: false, violations: violations.list };

  const vectors = scratch(count);
  for (let position = 0; position < FEATURE_COUNT; position++) {
    const spec = FEATURES[position] as FeatureSpec;
    const index = byFeature.get(spec.name) as number;
    const input = request.inputs[index] as ModelInferRequest_InferInputTensor;
    if (raw)
      readRaw(
        spec,
        input.datatype,
        request.rawInputContents[index] as Uint8Array,
        count,
        vectors,
        position,
        violations,
      );
    else readTyped(spec, input, count, vectors, position, violations);
    if (violations.full) break;
  }
  if (violations.list.length > 0) return { ok: false, violations: violations.list };
  return { ok: true, count, vectors, raw };
}

function hasContents(contents: InferTensorContents): boolean {
  return (
    contents.boolContents.length > 0 ||
    contents.intContents.length > 0 ||
    contents.int64Contents.length > 0 ||
    contents.uintContents.length > 0 ||
    contents.uint64Contents.length > 0 ||
    contents.fp32Contents.length > 0 ||
    contents.fp64Contents.length > 0 ||
    contents.bytesContents.length > 0
  );
}

/** Checks one value and stores its model coding; adds a violation naming input and row. */
function store(
  spec: FeatureSpec,
  value: number,
  row: number,
  vectors: Float64Array,
  position: number,
  violations: Violations,
): void {
  if (spec.kind === "gender") {
    const problem = checkGender(value);
    if (problem !== undefined)
      violations.add(`${spec.name}[${row}]`, `input ${spec.name}[${row}]: ${problem}`);
    else vectors[row * FEATURE_COUNT + position] = value === 1 ? GENDER_CODE.male : GENDER_CODE.female;
    return;
  }
  // NaN fails both comparisons and infinities fail the range: the hot path checks only this.
  if (value >= spec.min && value <= spec.max) {
    vectors[row * FEATURE_COUNT + position] = value;
    return;
  }
  violations.add(`${spec.name}[${row}]`, `input ${spec.name}[${row}]: ${checkNumeric(spec, value) ?? ""}`);
}

function storeGenderLabel(
  label: string,
  row: number,
  vectors: Float64Array,
  position: number,
  violations: Violations,
): void {
  const code = GENDER_LABELS.get(label);
  if (code === undefined) {
    violations.add(
      `gender[${row}]`,
      `input gender[${row}] is ${JSON.stringify(label.slice(0, 32))}; expected male or female`,
    );
  } else {
    vectors[row * FEATURE_COUNT + position] = code;
  }
}

function readRaw(
  spec: FeatureSpec,
  datatype: string,
  bytes: Uint8Array,
  count: number,
  vectors: Float64Array,
  position: number,
  violations: Violations,
): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (datatype === "BYTES") {
    // Each element: a 4-byte little-endian length, then that many bytes.
    let at = 0;
    for (let row = 0; row < count; row++) {
      if (at + 4 > bytes.byteLength) return sizeViolation(spec, "BYTES", count, row, violations);
      const length = view.getUint32(at, true);
      at += 4;
      if (at + length > bytes.byteLength) return sizeViolation(spec, "BYTES", count, row, violations);
      storeGenderLabel(
        Buffer.from(bytes.buffer, bytes.byteOffset + at, length).toString("utf8"),
        row,
        vectors,
        position,
        violations,
      );
      at += length;
      if (violations.full) return;
    }
    if (at !== bytes.byteLength) {
      violations.add(
        spec.name,
        `input ${spec.name}: raw_input_contents has ${bytes.byteLength - at} bytes after its ${count} BYTES elements`,
      );
    }
    return;
  }
  const size = ELEMENT_BYTES[datatype] ?? 8;
  if (bytes.byteLength !== size * count) {
    violations.add(
      spec.name,
      `input ${spec.name}: raw_input_contents holds ${bytes.byteLength} bytes; ${datatype} shape [${count}] needs ${size * count} (little-endian)`,
    );
    return;
  }
  for (let row = 0; row < count; row++) {
    const value =
      datatype === "FP64"
        ? view.getFloat64(row * 8, true)
        : datatype === "FP32"
          ? view.getFloat32(row * 4, true)
          : view.getInt32(row * 4, true);
    store(spec, value, row, vectors, position, violations);
    if (violations.full) return;
  }
}

function sizeViolation(
  spec: FeatureSpec,
  datatype: string,
  count: number,
  row: number,
  violations: Violations,
): void {
  violations.add(
    spec.name,
    `input ${spec.name}: raw_input_contents ends inside element ${row}; ${datatype} shape [${count}] needs ${count} length-prefixed elements`,
  );
}

function readTyped(
  spec: FeatureSpec,
  input: ModelInferRequest_InferInputTensor,
  count: number,
  vectors: Float64Array,
  position: number,
  violations: Violations,
): void {
  const contents = input.contents;
  const field =
    input.datatype === "FP64"
      ? "fp64_contents"
      : input.datatype === "FP32"
        ? "fp32_contents"
        : input.datatype === "INT32"
          ? "int_contents"
          : "bytes_contents";
  const values: readonly (number | Uint8Array)[] =
    contents === undefined
      ? []
      : input.datatype === "FP64"
        ? contents.fp64Contents
        : input.datatype === "FP32"
          ? contents.fp32Contents
          : input.datatype === "INT32"
            ? contents.intContents
            : contents.bytesContents;
  if (values.length !== count) {
    violations.add(
      spec.name,
      `input ${spec.name} has ${values.length} values in contents.${field}; shape [${count}] needs ${count}`,
    );
    return;
  }
  for (let row = 0; row < count; row++) {
    const value = values[row] as number | Uint8Array;
    if (typeof value === "number") store(spec, value, row, vectors, position, violations);
    else
      storeGenderLabel(
        Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("utf8"),
        row,
        vectors,
        position,
        violations,
      );
    if (violations.full) return;
  }
}

/** The answers of one ModelInfer call, before encoding. */
export interface InferAnswers {
  readonly count: number;
  readonly probabilities: Float64Array;
  /** 1 = liver disease, 0 = none, per row. */
  readonly liverDisease: Uint8Array;
  /** Signed feedback tokens, per row; undefined when omitted. */
  readonly feedbackTokens: readonly string[] | undefined;
  /** Per row, FEATURE_COUNT contributions in schema order; undefined unless explained. */
  readonly contributions: Float64Array | undefined;
}

/** The names of the outputs `answers` can give, in response order. */
export function producedOutputs(options: InferOptions): string[] {
  const names = [OUTPUT_PROBABILITY, OUTPUT_DIAGNOSIS];
  if (options.feedbackTokens) names.push(OUTPUT_FEEDBACK_TOKEN);
  if (options.explain) for (const name of FEATURE_NAMES) names.push(CONTRIBUTION_PREFIX + name);
  return names;
}

const LIVER_DISEASE_BYTES = Buffer.from(DIAGNOSIS_LABELS.liverDisease, "utf8");
const NO_LIVER_DISEASE_BYTES = Buffer.from(DIAGNOSIS_LABELS.noLiverDisease, "utf8");

/** Encodes the selected outputs, as raw_output_contents when `raw`, else as typed contents. */
export function encodeInferOutputs(
  answers: InferAnswers,
  names: readonly string[],
  raw: boolean,
): { outputs: ModelInferResponse_InferOutputTensor[]; rawOutputContents: Buffer[] } {
  const outputs: ModelInferResponse_InferOutputTensor[] = [];
  const rawOutputContents: Buffer[] = [];
  const { count } = answers;
  for (const name of names) {
    let datatype: "FP64" | "BYTES";
    let doubles: Float64Array | undefined;
    let strings: readonly Buffer[] | undefined;
    if (name === OUTPUT_PROBABILITY) {
      datatype = "FP64";
      doubles = answers.probabilities.subarray(0, count);
    } else if (name === OUTPUT_DIAGNOSIS) {
      datatype = "BYTES";
      strings = Array.from(answers.liverDisease.subarray(0, count), (flag) =>
        flag === 1 ? LIVER_DISEASE_BYTES : NO_LIVER_DISEASE_BYTES,
      );
    } else if (name === OUTPUT_FEEDBACK_TOKEN) {
      datatype = "BYTES";
      strings = (answers.feedbackTokens ?? []).map((token) => Buffer.from(token, "latin1"));
    } else {
      datatype = "FP64";
      const position = FEATURE_NAMES.indexOf(
        name.slice(CONTRIBUTION_PREFIX.length) as (typeof FEATURE_NAMES)[number],
      );
      const column = new Float64Array(count);
      const all = answers.contributions ?? new Float64Array(0);
      for (let row = 0; row < count; row++) column[row] = all[row * FEATURE_COUNT + position] as number;
      doubles = column;
    }
    const tensor: ModelInferResponse_InferOutputTensor = {
      name,
      datatype,
      shape: [count],
      parameters: {},
      contents: undefined,
    };
    if (raw) {
      rawOutputContents.push(doubles !== undefined ? rawDoubles(doubles) : rawBytes(strings ?? []));
    } else {
      tensor.contents = {
        boolContents: [],
        intContents: [],
        int64Contents: [],
        uintContents: [],
        uint64Contents: [],
        fp32Contents: [],
        fp64Contents: doubles === undefined ? [] : Array.from(doubles),
        bytesContents: strings === undefined ? [] : [...strings],
      };
    }
    outputs.push(tensor);
  }
  return { outputs, rawOutputContents };
}

/** FP64 little-endian, as raw contents carry it. */
function rawDoubles(values: Float64Array): Buffer {
  const out = Buffer.allocUnsafe(values.length * 8);
  for (let i = 0; i < values.length; i++) out.writeDoubleLE(values[i] as number, i * 8);
  return out;
}

/** BYTES: each element as a 4-byte little-endian length and its bytes. */
function rawBytes(values: readonly Buffer[]): Buffer {
  let size = 0;
  for (const value of values) size += 4 + value.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const value of values) {
    out.writeUInt32LE(value.length, at);
    value.copy(out, at + 4);
    at += 4 + value.length;
  }
  return out;
}
