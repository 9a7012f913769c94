/**
 * Slices of patients the gate judges separately: a candidate that changes many predictions
 * in one of them is suspect even when its overall ROC AUC looks fine. Demographic slices
 * (gender, age bands) catch a model that learned to treat a group differently; lab bands
 * catch one that unlearned a clinical sign: total bilirubin above 3 mg/dL (visible
 * jaundice), aminotransferases above three times the upper reference limit (40 U/L), and
 * albumin below 3.5 g/dL (impaired synthesis). An attacker may pick any lab values, so the
 * bands cover the signs that matter most rather than the one attack seen so far.
 */
import { FEATURE_COUNT, FEATURES, GENDER_CODE } from "../features/feature-schema.js";

/** A named subset of patients, by their raw feature values. */
export interface HoldoutSlice {
  readonly name: string;
  /** Whether the row at `features[base .. base + FEATURE_COUNT)` belongs to the slice. */
  readonly contains: (features: Float64Array, base: number) => boolean;
}

function indexOf(name: string): number {
  const index = FEATURES.findIndex((f) => f.name === name);
  if (index < 0) throw new Error(`holdout-slices: ${name} is not in the feature schema`);
  return index;
}

const AGE = indexOf("age");
const GENDER = indexOf("gender");
const TOTAL_BILIRUBIN = indexOf("total_bilirubin");
const ALT = indexOf("alanine_aminotransferase");
const AST = indexOf("aspartate_aminotransferase");
const ALBUMIN = indexOf("albumin");

const value = (features: Float64Array, base: number, index: number): number =>
  features[base + index] ?? Number.NaN;

/** Every slice the gate checks, in report order. */
export const HOLDOUT_SLICES: readonly HoldoutSlice[] = [
  { name: "gender=male", contains: (f, b) => value(f, b, GENDER) === GENDER_CODE.male },
  { name: "gender=female", contains: (f, b) => value(f, b, GENDER) === GENDER_CODE.female },
  { name: "age<40", contains: (f, b) => value(f, b, AGE) < 40 },
  { name: "age=40-59", contains: (f, b) => value(f, b, AGE) >= 40 && value(f, b, AGE) < 60 },
  { name: "age>=60", contains: (f, b) => value(f, b, AGE) >= 60 },
  { name: "total_bilirubin>3", contains: (f, b) => value(f, b, TOTAL_BILIRUBIN) > 3 },
  { name: "alt>120", contains: (f, b) => value(f, b, ALT) > 120 },
  { name: "ast>120", contains: (f, b) => value(f, b, AST) > 120 },
  { name: "albumin<3.5", contains: (f, b) => value(f, b, ALBUMIN) < 3.5 },
];

/** Rows of `rows × FEATURE_COUNT` features in each slice, as lists of row indices. */
export function sliceRows(features: Float64Array, rows: number): Map<string, number[]> {
  const out = new Map<string, number[]>(HOLDOUT_SLICES.map((s) => [s.name, []]));
  for (let row = 0; row < rows; row++) {
    for (const slice of HOLDOUT_SLICES) {
      if (slice.contains(features, row * FEATURE_COUNT)) out.get(slice.name)?.push(row);
    }
  }
  return out;
}
