/**
 * The one feature schema. Every part that touches patient values (CSV loader, trainer,
 * server-side validation, the web form) reads order, names, units, ranges and the gender
 * coding from here, so train/serve skew cannot be written by accident.
 *
 * This module has no imports on purpose: the browser bundle uses it too.
 */

/** Numeric input names, as the PatientFeatures proto fields are called. */
export type NumericFeatureName =
  | "age"
  | "total_bilirubin"
  | "direct_bilirubin"
  | "alkaline_phosphatase"
  | "alanine_aminotransferase"
  | "aspartate_aminotransferase"
  | "total_proteins"
  | "albumin"
  | "albumin_globulin_ratio";

/**
 * Property names of the numeric inputs in ts-proto's generated PatientFeatures (camelCase),
 * on the server and in the browser alike. A test checks they match the generated type.
 */
export type NumericFeatureKey =
  | "age"
  | "totalBilirubin"
  | "directBilirubin"
  | "alkalinePhosphatase"
  | "alanineAminotransferase"
  | "aspartateAminotransferase"
  | "totalProteins"
  | "albumin"
  | "albuminGlobulinRatio";

/** Every input name, in no particular order; use FEATURES for model order. */
export type FeatureName = NumericFeatureName | "gender";

/** A lab value or age with an inclusive valid range. */
export interface NumericFeatureSpec {
  readonly kind: "numeric";
  readonly name: NumericFeatureName;
  /** The property holding it in a generated PatientFeatures. */
  readonly key: NumericFeatureKey;
  readonly label: string;
  readonly unit: string;
  readonly min: number;
  readonly max: number;
  /** Header of the column in the real LPD CSV, after trimming white space and U+00A0. */
  readonly csvHeader: string;
  /** Standardize log1p(x) instead of x: the value is right-skewed over orders of magnitude. */
  readonly logTransform: boolean;
}

/** Gender, the only categorical input. */
export interface GenderFeatureSpec {
  readonly kind: "gender";
  readonly name: "gender";
  readonly label: string;
  readonly unit: "";
  readonly csvHeader: string;
  /** Proto enum names accepted, in the order of the enum. */
  readonly allowedValues: readonly ["GENDER_MALE", "GENDER_FEMALE"];
}

/** One input of the model. */
export type FeatureSpec = NumericFeatureSpec | GenderFeatureSpec;

/** Proto enum numbers of liver.v1.Gender (kept here so this file needs no generated code). */
export const GENDER_ENUM = { UNSPECIFIED: 0, MALE: 1, FEMALE: 2 } as const;

/** Model coding of gender: male = 1, female = 0. The only place it is defined. */
export const GENDER_CODE = { male: 1, female: 0 } as const;

/** The model's inputs in input-vector order. The order is part of every artifact. */
export const FEATURES: readonly FeatureSpec[] = [
  {
    kind: "numeric",
    name: "age",
    key: "age",
    label: "Age",
    unit: "years",
    min: 0,
    max: 120,
    csvHeader: "Age of the patient",
    logTransform: false,
  },
  {
    kind: "gender",
    name: "gender",
    label: "Gender",
    unit: "",
    csvHeader: "Gender of the patient",
    allowedValues: ["GENDER_MALE", "GENDER_FEMALE"],
  },
  {
    kind: "numeric",
    name: "total_bilirubin",
    key: "totalBilirubin",
    label: "Total bilirubin",
    unit: "mg/dL",
    min: 0,
    max: 100,
    csvHeader: "Total Bilirubin",
    logTransform: true,
  },
  {
    kind: "numeric",
    name: "direct_bilirubin",
    key: "directBilirubin",
    label: "Direct bilirubin",
    unit: "mg/dL",
    min: 0,
    max: 50,
    csvHeader: "Direct Bilirubin",
    logTransform: true,
  },
  {
    kind: "numeric",
    name: "alkaline_phosphatase",
    key: "alkalinePhosphatase",
    label: "Alkaline phosphatase (ALP)",
    unit: "IU/L",
    min: 0,
    max: 5000,
    csvHeader: "Alkphos Alkaline Phosphotase",
    logTransform: true,
  },
  {
    kind: "numeric",
    name: "alanine_aminotransferase",
    key: "alanineAminotransferase",
    label: "Alanine aminotransferase (ALT, SGPT)",
    unit: "IU/L",
    min: 0,
    max: 10000,
    csvHeader: "Sgpt Alamine Aminotransferase",
    logTransform: true,
  },
  {
    kind: "numeric",
    name: "aspartate_aminotransferase",
    key: "aspartateAminotransferase",
    label: "Aspartate aminotransferase (AST, SGOT)",
    unit: "IU/L",
    min: 0,
    max: 10000,
    csvHeader: "Sgot Aspartate Aminotransferase",
    logTransform: true,
  },
  {
    kind: "numeric",
    name: "total_proteins",
    key: "totalProteins",
    label: "Total proteins",
    unit: "g/dL",
    min: 0,
    max: 15,
    csvHeader: "Total Protiens",
    logTransform: false,
  },
  {
    kind: "numeric",
    name: "albumin",
    key: "albumin",
    label: "Albumin",
    unit: "g/dL",
    min: 0,
    max: 10,
    csvHeader: "ALB Albumin",
    logTransform: false,
  },
  {
    kind: "numeric",
    name: "albumin_globulin_ratio",
    key: "albuminGlobulinRatio",
    label: "Albumin/globulin ratio",
    unit: "",
    min: 0,
    max: 10,
    csvHeader: "A/G Ratio Albumin and Globulin Ratio",
    logTransform: false,
  },
];

/** Number of model inputs. */
export const FEATURE_COUNT = FEATURES.length;

/** Header of the label column in the real CSV: 1 = liver disease, 2 = no liver disease. */
export const LABEL_CSV_HEADER = "Result";

/** Label coding in the model: 1 = liver disease (the positive class), 0 = none. */
export const LABEL = { liverDisease: 1, noLiverDisease: 0 } as const;

/**
 * A patient as any client holds it: the generated PatientFeatures of the server or of the
 * browser both fit, since proto3 `optional double` arrives as `number | undefined`.
 */
export type PatientInput = { readonly [K in NumericFeatureKey]?: number | undefined } & {
  readonly gender?: number | undefined;
};

/** One problem with one field, phrased for a person. */
export interface FieldViolation {
  /** Field path, for example "age" or "patients[3].age". */
  readonly field: string;
  readonly description: string;
}

/** "0 to 120 years": the valid range in words, shared by server errors and the web form. */
export function describeRange(spec: NumericFeatureSpec): string {
  return `${spec.min} to ${spec.max}${spec.unit === "" ? "" : ` ${spec.unit}`}`;
}

/**
 * Checks one numeric value; returns the problem in words, or undefined when valid. The
 * words lead with the label the clinician sees and name the API field after it (`field`,
 * default the feature's name), with units: "Total bilirubin (total_bilirubin) is -1 mg/dL;
 * valid range 0 to 100 mg/dL".
 */
export function checkNumeric(
  spec: NumericFeatureSpec,
  value: number | undefined,
  field: string = spec.name,
): string | undefined {
  const named = `${spec.label} (${field})`;
  if (value === undefined) return `${named} is required: ${describeRange(spec)}`;
  if (Number.isNaN(value)) return `${named} is not a number (NaN); expected ${describeRange(spec)}`;
  if (!Number.isFinite(value)) return `${named} is ${value}; expected a number from ${describeRange(spec)}`;
  if (value < spec.min || value > spec.max)
    return `${named} is ${value}${spec.unit === "" ? "" : ` ${spec.unit}`}; valid range ${describeRange(spec)}`;
  return undefined;
}

/** Checks the gender enum number; returns the problem in words, or undefined when valid. */
export function checkGender(value: number | undefined, field = "gender"): string | undefined {
  if (value === undefined || value === GENDER_ENUM.UNSPECIFIED)
    return `Gender (${field}) is required: male (GENDER_MALE) or female (GENDER_FEMALE)`;
  if (value !== GENDER_ENUM.MALE && value !== GENDER_ENUM.FEMALE)
    return `Gender (${field}) has unknown enum value ${value}; expected GENDER_MALE (1) or GENDER_FEMALE (2)`;
  return undefined;
}

/** Every problem with a patient, each naming its field (prefixed, for batch entries). */
export function validatePatient(patient: PatientInput | undefined, prefix = ""): FieldViolation[] {
  if (patient === undefined) {
    return [
      { field: prefix === "" ? "patient" : prefix.replace(/\.$/, ""), description: "patient is required" },
    ];
  }
  const violations: FieldViolation[] = [];
  for (const spec of FEATURES) {
    const field = prefix + spec.name;
    const problem =
      spec.kind === "gender"
        ? checkGender(patient.gender, field)
        : checkNumeric(spec, patient[spec.key], field);
    if (problem !== undefined) violations.push({ field, description: problem });
  }
  return violations;
}

/** Model coding of a valid gender enum number. */
export function encodeGender(value: number): number {
  return value === GENDER_ENUM.MALE ? GENDER_CODE.male : GENDER_CODE.female;
}

/**
 * Writes a validated patient's raw values into `out` at `offset`, in model order, with the
 * model's gender coding. Call validatePatient first: this does not check.
 */
export function writeFeatureVector(patient: PatientInput, out: Float64Array, offset = 0): void {
  for (let i = 0; i < FEATURES.length; i++) {
    const spec = FEATURES[i] as FeatureSpec;
    out[offset + i] =
      spec.kind === "gender" ? encodeGender(patient.gender ?? 0) : (patient[spec.key] ?? Number.NaN);
  }
}

/** The patient as a fresh raw vector in model order; see writeFeatureVector. */
export function toFeatureVector(patient: PatientInput): Float64Array {
  const out = new Float64Array(FEATURE_COUNT);
  writeFeatureVector(patient, out);
  return out;
}
