/**
 * Field messages in the words the clinician sees: the field's label and unit from the form,
 * never the API's field names or enum names ("total_bilirubin is -1", "expected GENDER_MALE").
 * The checks stay the server's (services/shared/features/feature-schema.ts); only the
 * wording differs, and server messages that reach the page are translated the same way.
 */
import { FEATURES } from "../../../services/shared/features/feature-schema.js";

/** What a numeric field needs, in a form's words. */
export interface LabelledField {
  readonly label: string;
  readonly unit: string;
  readonly min: number;
  readonly max: number;
}

function withUnit(value: number | string, unit: string): string {
  return unit === "" ? String(value) : `${value} ${unit}`;
}

/** "0 to 120 years", as the form's hint says it. */
function describeRange(field: LabelledField): string {
  return `${field.min} to ${withUnit(field.max, field.unit)}`;
}

/** A numeric field left empty. */
export function missingValueMessage(field: LabelledField): string {
  return `Enter ${field.label}: ${describeRange(field)}.`;
}

/** A numeric field holding text that is not a number. */
export function notANumberMessage(field: LabelledField, text: string): string {
  return `${field.label}: "${text}" is not a number; enter a number from ${describeRange(field)}.`;
}

/** A numeric value outside its valid range. */
export function outOfRangeMessage(field: LabelledField, value: number): string {
  return `${field.label} ${withUnit(value, field.unit)} is outside the valid range of ${describeRange(field)}.`;
}

/** The sex choice left empty (or holding a value the page does not offer). */
export const MISSING_SEX_MESSAGE = "Choose the patient's sex.";

const ENUM_WORDS: Readonly<Record<string, string>> = {
  GENDER_MALE: "male",
  GENDER_FEMALE: "female",
};

/**
 * A server message with API field names replaced by the form's labels and enum names by
 * words: "total_bilirubin is -1; ..." and "Total bilirubin (total_bilirubin) is -1 mg/dL; ..."
 * both become "Total bilirubin is -1 ...". Longer names go first so
 * "albumin_globulin_ratio" is not read as "albumin".
 */
export function withFieldLabels(message: string): string {
  const names = FEATURES.map((spec) => ({ name: spec.name, label: spec.label })).sort(
    (a, b) => b.name.length - a.name.length,
  );
  let text = message;
  for (const { name, label } of names) {
    // "Label (api_name)": the label is already there; drop the API name.
    text = text.split(`${label} (${name})`).join(label);
    text = text.replace(new RegExp(`(^|[^A-Za-z0-9_.])${name}(?![A-Za-z0-9_])`, "g"), `$1${label}`);
  }
  // Both server wordings of a missing sex, old and new.
  text = text.replace(
    /\bGender is required(?:; expected GENDER_MALE or GENDER_FEMALE|: male \(GENDER_MALE\) or female \(GENDER_FEMALE\))?\.?/,
    MISSING_SEX_MESSAGE,
  );
  for (const [enumName, word] of Object.entries(ENUM_WORDS)) {
    text = text.replace(new RegExp(`\\b${word} \\(${enumName}\\)`, "g"), word);
    text = text.replace(new RegExp(`\\b${enumName}\\b(?: \\(\\d+\\))?`, "g"), word);
  }
  return text;
}
