/**
 * What the patient form holds right now, read from its controls by name: the raw text per
 * field (to tell whether a shown result still belongs to the form) and, leniently, the numbers
 * typed so far (for plausibility warnings before anything is sent).
 */
import { FEATURES, type PatientInput } from "../../../services/shared/features/feature-schema.js";

/** Raw text of every named input and select, by name. */
export function readFormValues(form: HTMLFormElement): Map<string, string> {
  const values = new Map<string, string>();
  for (const element of Array.from(form.elements)) {
    if (element instanceof HTMLInputElement || element instanceof HTMLSelectElement) {
      if (element.name !== "") values.set(element.name, element.value.trim());
    }
  }
  return values;
}

/** Names whose text differs between two readings (in the order of `now`). */
export function changedFields(
  before: ReadonlyMap<string, string>,
  now: ReadonlyMap<string, string>,
): string[] {
  const names = new Set([...now.keys(), ...before.keys()]);
  return [...names].filter((name) => (before.get(name) ?? "") !== (now.get(name) ?? ""));
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The numbers typed so far (a lone decimal comma accepted, as the form does); others left out. */
export function partialPatient(values: ReadonlyMap<string, string>): PatientInput {
  const patient: { [key: string]: number } = {};
  for (const spec of FEATURES) {
    if (spec.kind !== "numeric") continue;
    const text = values.get(spec.name) ?? "";
    const normalized = text.includes(".") ? text : text.replace(",", ".");
    if (NUMBER.test(normalized)) patient[spec.key] = Number(normalized);
  }
  return patient;
}
