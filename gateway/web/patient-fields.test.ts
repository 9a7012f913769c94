import { describe, expect, it } from "vitest";
import { FEATURES, validatePatient } from "../../services/shared/features/feature-schema.js";
import type { FeatureSpec } from "./src/gen/liver/v1/model.js";
import { Gender } from "./src/gen/liver/v1/patient.js";
import {
  buildPatient,
  fieldLabel,
  fieldsFromSchema,
  type NumericField,
  parseNumericField,
  type PatientField,
} from "./src/patient-fields.js";

/** The schema as GetModelInfo sends it, built from the shared feature table. */
const SCHEMA: FeatureSpec[] = FEATURES.map((spec, position) => ({
  name: spec.name,
  label: spec.label,
  unit: spec.unit,
  min: spec.kind === "numeric" ? spec.min : 0,
  max: spec.kind === "numeric" ? spec.max : 0,
  allowedValues: spec.kind === "gender" ? [...spec.allowedValues] : [],
  position,
}));

const VALID: Record<string, string> = {
  age: "45",
  gender: "GENDER_FEMALE",
  total_bilirubin: "0.9",
  direct_bilirubin: "0.2",
  alkaline_phosphatase: "180",
  alanine_aminotransferase: "25",
  aspartate_aminotransferase: "30",
  total_proteins: "6.8",
  albumin: "3.4",
  albumin_globulin_ratio: "1",
};

function numeric(fields: PatientField[], name: string): NumericField {
  const field = fields.find((f) => f.name === name);
  if (field?.kind !== "numeric") throw new Error(`no numeric field ${name}`);
  return field;
}

describe("fieldsFromSchema", () => {
  it("orders fields by position and takes label, unit and range from the server", () => {
    const shuffled = [...SCHEMA].reverse();
    const first = shuffled.at(-1);
    if (first === undefined) throw new Error("empty schema");
    shuffled[shuffled.length - 1] = { ...first, max: 99, label: "Age at visit" };
    const fields = fieldsFromSchema(shuffled);
    expect(fields.map((f) => f.name)).toEqual(FEATURES.map((f) => f.name));
    const age = numeric(fields, "age");
    expect(fieldLabel(age)).toBe("Age at visit");
    expect(age.rangeText).toBe("0 to 99 years");
    expect(parseNumericField(age, "100").error).toBe(
      "Age at visit (age) is 100 years; valid range 0 to 99 years",
    );
  });

  it("offers the allowed genders by name", () => {
    const gender = fieldsFromSchema(SCHEMA).find((f) => f.kind === "gender");
    expect(gender?.kind === "gender" ? gender.options : []).toEqual([
      { value: Gender.GENDER_MALE, enumName: "GENDER_MALE", label: "Male" },
      { value: Gender.GENDER_FEMALE, enumName: "GENDER_FEMALE", label: "Female" },
    ]);
  });

  it("refuses schemas the page cannot fill in, naming the feature", () => {
    expect(() => fieldsFromSchema([...SCHEMA, { ...SCHEMA[0], name: "ferritin" } as FeatureSpec])).toThrow(
      /feature "ferritin" this page does not know/,
    );
    expect(() => fieldsFromSchema(SCHEMA.filter((f) => f.name !== "albumin"))).toThrow(/lacks albumin/);
    expect(() => fieldsFromSchema([...SCHEMA, SCHEMA[2] as FeatureSpec])).toThrow(
      /lists "total_bilirubin" twice/,
    );
  });
});

describe("parseNumericField", () => {
  const age = numeric(fieldsFromSchema(SCHEMA), "age");

  it("accepts plain decimals, exponents and a lone decimal comma", () => {
    expect(parseNumericField(age, " 45 ")).toEqual({ value: 45 });
    expect(parseNumericField(age, "4.5e1")).toEqual({ value: 45 });
    expect(parseNumericField(age, "44,5")).toEqual({ value: 44.5 });
    expect(parseNumericField(age, "0")).toEqual({ value: 0 });
    expect(parseNumericField(age, "120")).toEqual({ value: 120 });
  });

  it("gives the server's messages for missing and out-of-range values", () => {
    expect(parseNumericField(age, "").error).toBe("Age (age) is required: 0 to 120 years");
    expect(parseNumericField(age, "130").error).toBe("Age (age) is 130 years; valid range 0 to 120 years");
    expect(parseNumericField(age, "-1").error).toBe("Age (age) is -1 years; valid range 0 to 120 years");
  });

  it("refuses text that is not a number, naming the field and range", () => {
    expect(parseNumericField(age, "forty").error).toBe(
      'Age (age) is "forty"; expected a number from 0 to 120 years',
    );
    expect(parseNumericField(age, "1.2.3").error).toMatch(/^Age \(age\) is "1\.2\.3"/);
    expect(parseNumericField(age, "Infinity").error).toMatch(/expected a number/);
    expect(parseNumericField(age, "1,000.5").error).toMatch(/expected a number/);
  });
});

describe("buildPatient", () => {
  const fields = fieldsFromSchema(SCHEMA);

  it("builds a patient the server's own validation accepts", () => {
    const result = buildPatient(fields, (name) => VALID[name] ?? "");
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.patient).toEqual({
      age: 45,
      gender: Gender.GENDER_FEMALE,
      totalBilirubin: 0.9,
      directBilirubin: 0.2,
      alkalinePhosphatase: 180,
      alanineAminotransferase: 25,
      aspartateAminotransferase: 30,
      totalProteins: 6.8,
      albumin: 3.4,
      albuminGlobulinRatio: 1,
    });
    expect(validatePatient(result.patient)).toEqual([]);
  });

  it("reports every bad field at once, with the same text as the server", () => {
    const raw: Record<string, string> = { ...VALID, age: "130", gender: "", albumin: "" };
    const result = buildPatient(fields, (name) => raw[name] ?? "");
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const server = validatePatient({ age: 130, gender: 0, albumin: undefined });
    for (const name of ["age", "gender", "albumin"]) {
      expect(result.errors.get(name)).toBe(server.find((v) => v.field === name)?.description);
    }
    expect([...result.errors.keys()]).toEqual(["age", "gender", "albumin"]);
  });
});
