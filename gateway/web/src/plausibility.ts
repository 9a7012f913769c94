/**
 * Values that cannot occur together in one patient, said before and with the answer. They are
 * warnings, not refusals: the real dataset has rows with direct above total bilirubin (data
 * entry or lab error), and the clinician decides. Direct (conjugated) bilirubin is a part of
 * total bilirubin, and albumin a part of total proteins, so neither part can exceed its total.
 *
 * The API may carry its own warnings on the answer (a `warnings` field naming fields); they are
 * merged with the page's, one entry per set of fields, in the form's words.
 */
import { FEATURES, type PatientInput } from "../../../services/shared/features/feature-schema.js";
import { h } from "./dom.js";
import { withFieldLabels } from "./field-messages.js";

/** One warning: the fields (API names) it concerns and the sentence shown. */
export interface PlausibilityWarning {
  readonly fields: readonly string[];
  readonly message: string;
}

const SPECS = new Map(FEATURES.map((spec) => [spec.name as string, spec]));

function valueText(name: string, value: number): string {
  const spec = SPECS.get(name);
  const unit = spec === undefined || spec.unit === "" ? "" : ` ${spec.unit}`;
  return `${spec?.label ?? name} (${value}${unit})`;
}

/** Pairs where the first is a part of the second. */
const PART_OF: readonly {
  readonly part: "direct_bilirubin" | "albumin";
  readonly partKey: "directBilirubin" | "albumin";
  readonly whole: "total_bilirubin" | "total_proteins";
  readonly wholeKey: "totalBilirubin" | "totalProteins";
}[] = [
  {
    part: "direct_bilirubin",
    partKey: "directBilirubin",
    whole: "total_bilirubin",
    wholeKey: "totalBilirubin",
  },
  { part: "albumin", partKey: "albumin", whole: "total_proteins", wholeKey: "totalProteins" },
];

/** The page's own check of a (possibly partly filled) patient. */
export function checkPlausibility(patient: PatientInput): PlausibilityWarning[] {
  const warnings: PlausibilityWarning[] = [];
  for (const { part, partKey, whole, wholeKey } of PART_OF) {
    const partValue = patient[partKey];
    const wholeValue = patient[wholeKey];
    if (partValue === undefined || wholeValue === undefined) continue;
    if (!Number.isFinite(partValue) || !Number.isFinite(wholeValue) || partValue <= wholeValue) continue;
    const partLabel = SPECS.get(part)?.label ?? part;
    const wholeLabel = (SPECS.get(whole)?.label ?? whole).toLowerCase();
    warnings.push({
      fields: [part, whole],
      message: `${valueText(part, partValue)} is higher than ${valueText(whole, wholeValue).replace(/^./, (c) => c.toLowerCase())}, but ${partLabel.toLowerCase()} is part of ${wholeLabel}. Check both values.`,
    });
  }
  return warnings;
}

/**
 * The warnings an API answer carries, if it has any: a `warnings` list whose entries name
 * their fields (`fields` or `field`) and say why (`message` or `description`). Anything else
 * is ignored, so an answer without the field (or an older server) yields none.
 */
export function apiWarnings(answer: object): PlausibilityWarning[] {
  const list: unknown = (answer as { readonly warnings?: unknown }).warnings;
  if (!Array.isArray(list)) return [];
  const warnings: PlausibilityWarning[] = [];
  for (const entry of list as unknown[]) {
    if (typeof entry !== "object" || entry === null) continue;
    const record = entry as Record<string, unknown>;
    const fields = Array.isArray(record["fields"])
      ? (record["fields"] as unknown[]).filter((f): f is string => typeof f === "string")
      : typeof record["field"] === "string"
        ? [record["field"]]
        : [];
    const text = record["message"] ?? record["description"];
    if (typeof text !== "string" || text === "") continue;
    warnings.push({ fields, message: withFieldLabels(text) });
  }
  return warnings;
}

/** One list: the page's warning wins over the API's for the same set of fields (it has units). */
export function mergeWarnings(
  page: readonly PlausibilityWarning[],
  api: readonly PlausibilityWarning[],
): PlausibilityWarning[] {
  const key = (w: PlausibilityWarning): string => [...w.fields].sort().join(",");
  const seen = new Set(page.map(key));
  return [...page, ...api.filter((w) => w.fields.length === 0 || !seen.has(key(w)))];
}

/** Renders warnings into an element (hidden when there are none). */
export class PlausibilityNotice {
  constructor(
    /** Where the warnings show; the caller places it. */
    readonly element: HTMLElement,
    private readonly heading: string,
  ) {
    element.classList.add("plausibility");
    element.hidden = true;
  }

  show(warnings: readonly PlausibilityWarning[]): void {
    this.element.hidden = warnings.length === 0;
    this.element.replaceChildren(
      ...(warnings.length === 0
        ? []
        : [
            h("p", {}, this.heading),
            h("ul", {}, ...warnings.map((w) => h("li", { "data-fields": w.fields.join(" ") }, w.message))),
          ]),
    );
  }
}
