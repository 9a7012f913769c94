/**
 * Patients for PredictService tests and benches: a valid example, and rows of a Dataset
 * (schema vectors) turned back into the PatientFeatures a client sends.
 */
import { Gender, type PatientFeatures } from "../../gen/liver/v1/patient.js";
import { FEATURES, FEATURE_COUNT, GENDER_CODE } from "../../shared/features/feature-schema.js";

/** A valid patient, every field inside its range. */
export function validPatient(overrides: Partial<PatientFeatures> = {}): PatientFeatures {
  return {
    age: 45,
    gender: Gender.GENDER_MALE,
    totalBilirubin: 1.2,
    directBilirubin: 0.4,
    alkalinePhosphatase: 210,
    alanineAminotransferase: 35,
    aspartateAminotransferase: 42,
    totalProteins: 6.8,
    albumin: 3.3,
    albuminGlobulinRatio: 0.95,
    ...overrides,
  };
}

/** Row `row` of schema vectors (FEATURES order, model gender coding) as a PatientFeatures. */
export function vectorToPatient(features: Float64Array, row: number): PatientFeatures {
  const patient: PatientFeatures = { gender: Gender.GENDER_UNSPECIFIED };
  FEATURES.forEach((spec, i) => {
    const value = features[row * FEATURE_COUNT + i] ?? Number.NaN;
    if (spec.kind === "gender") {
      patient.gender = value === GENDER_CODE.male ? Gender.GENDER_MALE : Gender.GENDER_FEMALE;
    } else {
      patient[spec.key] = value;
    }
  });
  return patient;
}
