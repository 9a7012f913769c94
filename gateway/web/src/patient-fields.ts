/**
 * The form's model, without the DOM: turns GetModelInfo's feature schema into field
 * definitions and the typed text into a PatientFeatures message, with the same checks and
 * the same messages the server uses (services/shared/features/feature-schema.ts), so a value
 * the page accepts is one the server accepts and an inline error reads like the server's.
 */
import {
  checkGender,
  checkNumeric,
  describeRange,
  FEATURES,
  type NumericFeatureName,
  type NumericFeatureSpec,
} from "../../../services/shared/features/feature-schema.js";
import type { FeatureSpec } from "./gen/liver/v1/model.js";
import { Gender, type PatientFeatures } from "./gen/liver/v1/patient.js";

/** A number input: the shared spec with the server's label, unit and range applied. */
export interface NumericField {
  readonly kind: "numeric";
  readonly name: NumericFeatureName;
  readonly spec: NumericFeatureSpec;
  /** "0 to 120 years", shown next to the input. */
  readonly rangeText: string;
}

/** The gender choice, with the enum values the server allows. */
export interface GenderField {
  readonly kind: "gender";
  readonly name: "gender";
  readonly label: string;
  readonly options: readonly { readonly value: Gender; readonly enumName: string; readonly label: string }[];
}

/** One input of the form. */
export type PatientField = NumericField | GenderField;

/**
 * Field definitions in model order (FeatureSpec.position). Throws, naming the feature, when
 * the server's schema and this page disagree on what the inputs are: the page could not
 * build a request the server accepts.
 */
export function fieldsFromSchema(features: readonly FeatureSpec[]): PatientField[] {
  const known = new Map(FEATURES.map((spec) => [spec.name as string, spec]));
  const seen = new Set<string>();
  const fields = [...features]
    .sort((a, b) => a.position - b.position)
    .map((feature): PatientField => {
      const local = known.get(feature.name);
      if (local === undefined) {
        throw new Error(
          `the server's schema has a feature "${feature.name}" this page does not know; reload the page or update it`,
        );
      }
      if (seen.has(feature.name)) throw new Error(`the server's schema lists "${feature.name}" twice`);
      seen.add(feature.name);
      if (local.kind === "gender") {
        const options = feature.allowedValues.map((enumName) => {
          const value = Gender[enumName as keyof typeof Gender] as Gender | undefined;
          if (value === undefined || value === Gender.UNRECOGNIZED) {
            throw new Error(`the server allows gender "${enumName}", which this page does not know`);
          }
          return { value, enumName, label: genderLabel(enumName) };
        });
        return { kind: "gender", name: "gender", label: feature.label || local.label, options };
      }
      const spec: NumericFeatureSpec = {
        ...local,
        label: feature.label || local.label,
        unit: feature.unit,
        min: feature.min,
        max: feature.max,
      };
      return { kind: "numeric", name: local.name, spec, rangeText: describeRange(spec) };
    });
  const missing = FEATURES.filter((spec) => !seen.has(spec.name)).map((spec) => spec.name);
  if (missing.length > 0)
    throw new Error(`the server's schema lacks ${missing.join(", ")}; the page cannot predict`);
  return fields;
}

function genderLabel(enumName: string): string {
  const word = enumName.replace(/^GENDER_/, "").toLowerCase();
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** The field's label for people. */
export function fieldLabel(field: PatientField): string {
  return field.kind === "gender" ? field.label : field.spec.label;
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Reads a typed number. Empty means missing; a decimal comma is accepted when it is the only
 * separator ("1,5"); anything else that is not a plain decimal number is refused, naming the
 * field and range the way the server names them.
 */
export function parseNumericField(field: NumericField, raw: string): { value?: number; error?: string } {
  const text = raw.trim();
  const normalized = text.includes(".") ? text : text.replace(",", ".");
  if (text !== "" && !NUMBER.test(normalized)) {
    return {
      error: `${field.spec.label} (${field.name}) is "${text}"; expected a number from ${field.rangeText}`,
    };
  }
  const value = text === "" ? undefined : Number(normalized);
  const error = checkNumeric(field.spec, value);
  return error === undefined ? (value === undefined ? {} : { value }) : { error };
}

/** Reads the gender choice (the enum name, or "" for none) with the server's check. */
export function parseGenderField(field: GenderField, raw: string): { value?: Gender; error?: string } {
  const option = field.options.find((candidate) => candidate.enumName === raw);
  const value = option?.value;
  const error = checkGender(value);
  return error === undefined && value !== undefined
    ? { value }
    : { error: error ?? "Gender (gender) is required" };
}

/** Every field's problem, or the patient ready to send. */
export type PatientParseResult =
  | { readonly ok: true; readonly patient: PatientFeatures }
  | { readonly ok: false; readonly errors: ReadonlyMap<string, string> };

/** Validates all fields at once so every error shows together; nothing is sent unless all pass. */
export function buildPatient(
  fields: readonly PatientField[],
  raw: (name: string) => string,
): PatientParseResult {
  const errors = new Map<string, string>();
  const patient: PatientFeatures = { gender: Gender.GENDER_UNSPECIFIED };
  for (const field of fields) {
    if (field.kind === "gender") {
      const { value, error } = parseGenderField(field, raw(field.name));
      if (error !== undefined) errors.set(field.name, error);
      else if (value !== undefined) patient.gender = value;
    } else {
      const { value, error } = parseNumericField(field, raw(field.name));
      if (error !== undefined) errors.set(field.name, error);
      else patient[field.spec.key] = value;
    }
  }
  return errors.size === 0 ? { ok: true, patient } : { ok: false, errors };
}
