import {
  FEATURES,
  FEATURE_COUNT,
  type FieldViolation,
  GENDER_CODE,
  GENDER_ENUM,
  type NumericFeatureKey,
  validatePatient,
} from "../shared/features/feature-schema.js";
import type { PatientFeatures } from "../gen/liver/v1/patient.js";

interface Slot {
  /** Generated field name, or undefined for gender. */
  readonly key: NumericFeatureKey | undefined;
  readonly min: number;
  readonly max: number;
}

/** FEATURES in model order, flattened for the hot path. */
const SLOTS: readonly Slot[] = FEATURES.map((spec) =>
  spec.kind === "gender"
    ? { key: undefined, min: 0, max: 0 }
    : { key: spec.key, min: spec.min, max: spec.max },
);

/**
 * Writes a generated PatientFeatures into `out` at `offset` as the schema's raw vector
 * (model order, model gender coding) and returns true; returns false, with `out` partly
 * written, when any value is missing, NaN, infinite, out of range or an unknown enum.
 *
 * This is the serving hot path: it checks exactly what validatePatient checks, without
 * allocating, and patientViolations explains a false in the schema's own words.
 */
export function readPatientVector(
  patient: PatientFeatures | undefined,
  out: Float64Array,
  offset: number,
): boolean {
  if (patient === undefined) return false;
  for (let i = 0; i < FEATURE_COUNT; i++) {
    const slot = SLOTS[i] as Slot;
    if (slot.key === undefined) {
      const gender = patient.gender as number;
      if (gender === GENDER_ENUM.MALE) out[offset + i] = GENDER_CODE.male;
      else if (gender === GENDER_ENUM.FEMALE) out[offset + i] = GENDER_CODE.female;
      else return false;
    } else {
      const value = patient[slot.key];
      // NaN fails both comparisons; infinities fail the range.
      if (value === undefined || !(value >= slot.min && value <= slot.max)) return false;
      out[offset + i] = value;
    }
  }
  return true;
}

/**
 * Every problem with a patient, phrased by the shared schema (field name and valid range),
 * with `prefix` (e.g. "patients[3].") for batch entries.
 */
export function patientViolations(patient: PatientFeatures | undefined, prefix = ""): FieldViolation[] {
  return validatePatient(patient, prefix);
}
