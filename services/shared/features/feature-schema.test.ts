import { describe, expect, expectTypeOf, it } from "vitest";
import { PatientFeatures, Gender } from "../../gen/liver/v1/patient.js";
import { PatientFeatures as WebPatientFeatures } from "../../../gateway/web/src/gen/liver/v1/patient.js";
import {
  FEATURES,
  FEATURE_COUNT,
  GENDER_CODE,
  toFeatureVector,
  validatePatient,
  type NumericFeatureKey,
  type PatientInput,
} from "./feature-schema.js";

const valid = PatientFeatures.fromPartial({
  age: 45,
  gender: Gender.GENDER_FEMALE,
  totalBilirubin: 0.7,
  directBilirubin: 0.1,
  alkalinePhosphatase: 187,
  alanineAminotransferase: 16,
  aspartateAminotransferase: 18,
  totalProteins: 6.8,
  albumin: 3.3,
  albuminGlobulinRatio: 0.9,
});

describe("feature schema", () => {
  it("names every numeric field of the generated PatientFeatures, server and browser alike", () => {
    expectTypeOf<NumericFeatureKey>().toEqualTypeOf<Exclude<keyof PatientFeatures, "gender">>();
    expectTypeOf<NumericFeatureKey>().toEqualTypeOf<Exclude<keyof WebPatientFeatures, "gender">>();
    expectTypeOf<PatientFeatures>().toExtend<PatientInput>();
    const keys = FEATURES.flatMap((spec) => (spec.kind === "numeric" ? [spec.key] : []));
    expect(new Set(keys).size).toBe(FEATURE_COUNT - 1);
    expect(Object.keys(PatientFeatures.fromJSON({ age: 1 }))).toEqual(expect.arrayContaining(["gender"]));
  });

  it("accepts a valid generated message as it is and codes it in model order", () => {
    expect(validatePatient(valid)).toEqual([]);
    expect(Array.from(toFeatureVector(valid))).toEqual([
      45,
      GENDER_CODE.female,
      0.7,
      0.1,
      187,
      16,
      18,
      6.8,
      3.3,
      0.9,
    ]);
  });

  it("names each missing, NaN, infinite or out-of-range field with its valid range", () => {
    const bad = {
      ...valid,
      age: undefined,
      totalBilirubin: Number.NaN,
      albumin: Infinity,
      albuminGlobulinRatio: 50,
    };
    const messages = validatePatient(bad).map((v) => `${v.field}: ${v.description}`);
    expect(messages).toEqual([
      "age: Age (age) is required: 0 to 120 years",
      "total_bilirubin: Total bilirubin (total_bilirubin) is not a number (NaN); expected 0 to 100 mg/dL",
      "albumin: Albumin (albumin) is Infinity; expected a number from 0 to 10 g/dL",
      "albumin_globulin_ratio: Albumin/globulin ratio (albumin_globulin_ratio) is 50; valid range 0 to 10",
    ]);
  });

  it("refuses negative values, an unspecified gender and unknown enum values", () => {
    expect(validatePatient({ ...valid, alkalinePhosphatase: -1 })[0]?.description).toMatch(
      /^Alkaline phosphatase \(ALP\) \(alkaline_phosphatase\) is -1 IU\/L; valid range 0 to 5000 IU\/L$/,
    );
    expect(validatePatient({ ...valid, gender: Gender.GENDER_UNSPECIFIED })[0]?.description).toMatch(
      /^Gender \(gender\) is required/,
    );
    expect(validatePatient({ ...valid, gender: 7 })[0]?.description).toMatch(/unknown enum value 7/);
  });

  it("prefixes batch entries and reports a missing patient", () => {
    expect(validatePatient({ ...valid, age: -3 }, "patients[2].")[0]).toEqual({
      field: "patients[2].age",
      description: "Age (patients[2].age) is -3 years; valid range 0 to 120 years",
    });
    expect(validatePatient(undefined)).toEqual([{ field: "patient", description: "patient is required" }]);
  });

  it("admits every range the real dataset shows (data/README facts)", () => {
    const seen: Record<string, [number, number]> = {
      age: [4, 90],
      total_bilirubin: [0.4, 75],
      direct_bilirubin: [0.1, 19.7],
      alkaline_phosphatase: [63, 2110],
      alanine_aminotransferase: [10, 2000],
      aspartate_aminotransferase: [10, 4929],
      total_proteins: [2.7, 9.6],
      albumin: [0.9, 5.5],
      albumin_globulin_ratio: [0.3, 2.8],
    };
    for (const spec of FEATURES) {
      if (spec.kind !== "numeric") continue;
      const [low, high] = seen[spec.name] ?? [Number.NaN, Number.NaN];
      expect(spec.min).toBeLessThanOrEqual(low);
      expect(spec.max).toBeGreaterThanOrEqual(high);
    }
  });
});
