/**
 * Values of one patient that cannot occur together as given. Predict answers anyway (the
 * real file has 122 complete rows with direct above total bilirubin, so refusing would turn
 * away real patients) and adds a warning naming the fields, so the clinician checks them.
 *
 * - Direct bilirubin is a part of total bilirubin, so it cannot exceed it.
 * - Albumin is a part of total proteins (total = albumin + globulins), so it cannot exceed it.
 * - The A/G ratio is albumin / (total proteins - albumin). It is flagged only when it lies
 *   outside what albumin and total proteins allow after each value's rounding to its last
 *   reported digit (0.05) and the allowable total error of the two assays (8 %, the CLIA
 *   proficiency-testing acceptance limit for albumin and for total protein, 42 CFR 493.931
 *   as revised in 2024). On the real file that flags 259 of 27,158 complete rows.
 *
 * This module imports only the schema, which has no imports: the browser can use it too.
 */
import { FEATURES, type NumericFeatureName, type NumericFeatureSpec } from "./feature-schema.js";

/** One contradiction among a patient's values. */
export interface PlausibilityWarning {
  /** PatientFeatures field names involved. */
  readonly fields: readonly NumericFeatureName[];
  /** The problem in plain words, with labels, values and units. */
  readonly message: string;
}

/** Allowable total error of the albumin and total protein assays (relative). */
export const ASSAY_ALLOWABLE_ERROR = 0.08;
/** Half the last reported digit of albumin, total proteins and the A/G ratio. */
export const ROUNDING = 0.05;

function numeric(name: NumericFeatureName): { readonly spec: NumericFeatureSpec; readonly index: number } {
  const index = FEATURES.findIndex((spec) => spec.name === name);
  const spec = FEATURES[index];
  if (spec?.kind !== "numeric") throw new Error(`${name} is not a numeric feature of the schema`);
  return { spec, index };
}

const TOTAL_BILIRUBIN = numeric("total_bilirubin");
const DIRECT_BILIRUBIN = numeric("direct_bilirubin");
const TOTAL_PROTEINS = numeric("total_proteins");
const ALBUMIN = numeric("albumin");
const AG_RATIO = numeric("albumin_globulin_ratio");

/** "Total bilirubin 0.5 mg/dL": a value as the clinician reads it. */
function reading(feature: { readonly spec: NumericFeatureSpec }, value: number): string {
  const shown = Number(value.toPrecision(6));
  return `${feature.spec.label} ${shown}${feature.spec.unit === "" ? "" : ` ${feature.spec.unit}`}`;
}

/** The lowest A/G ratio albumin and total proteins allow, given rounding and assay error. */
function lowestAgRatio(albumin: number, totalProteins: number): number {
  const albuminLow = Math.max(albumin * (1 - ASSAY_ALLOWABLE_ERROR) - ROUNDING, 0);
  const proteinsHigh = totalProteins * (1 + ASSAY_ALLOWABLE_ERROR) + ROUNDING;
  return albuminLow / (proteinsHigh - albuminLow) - ROUNDING;
}

/** The highest such ratio; infinite when the globulins could be zero. */
function highestAgRatio(albumin: number, totalProteins: number): number {
  const albuminHigh = albumin * (1 + ASSAY_ALLOWABLE_ERROR) + ROUNDING;
  const narrowestGlobulin = totalProteins * (1 - ASSAY_ALLOWABLE_ERROR) - ROUNDING - albuminHigh;
  return narrowestGlobulin > 0 ? albuminHigh / narrowestGlobulin + ROUNDING : Number.POSITIVE_INFINITY;
}

/** The A/G ratios albumin and total proteins allow, given rounding and assay error. */
export function allowedAgRatio(albumin: number, totalProteins: number): { low: number; high: number } {
  return { low: lowestAgRatio(albumin, totalProteins), high: highestAgRatio(albumin, totalProteins) };
}

/**
 * Whether the vector at `offset` would get any warning: the same rules as checkPlausibility
 * without building anything, for PredictBatch's per-patient loop.
 */
export function hasImplausibleValues(vector: ArrayLike<number>, offset = 0): boolean {
  const direct = vector[offset + DIRECT_BILIRUBIN.index] ?? Number.NaN;
  const total = vector[offset + TOTAL_BILIRUBIN.index] ?? Number.NaN;
  const albumin = vector[offset + ALBUMIN.index] ?? Number.NaN;
  const proteins = vector[offset + TOTAL_PROTEINS.index] ?? Number.NaN;
  const ratio = vector[offset + AG_RATIO.index] ?? Number.NaN;
  if (direct > total || albumin > proteins) return true;
  return ratio < lowestAgRatio(albumin, proteins) || ratio > highestAgRatio(albumin, proteins);
}

/**
 * The warnings for the validated raw schema vector at `offset` of `vector` (FEATURES order);
 * empty when the values fit together.
 */
export function checkPlausibility(vector: ArrayLike<number>, offset = 0): PlausibilityWarning[] {
  const at = (feature: { readonly index: number }): number => vector[offset + feature.index] ?? Number.NaN;
  const warnings: PlausibilityWarning[] = [];
  const total = at(TOTAL_BILIRUBIN);
  const direct = at(DIRECT_BILIRUBIN);
  if (direct > total) {
    warnings.push({
      fields: ["direct_bilirubin", "total_bilirubin"],
      message:
        `${reading(DIRECT_BILIRUBIN, direct)} is higher than ${reading(TOTAL_BILIRUBIN, total)}, ` +
        "but direct bilirubin is part of the total: one of them is probably mis-entered.",
    });
  }
  const proteins = at(TOTAL_PROTEINS);
  const albumin = at(ALBUMIN);
  const ratio = at(AG_RATIO);
  if (albumin > proteins) {
    warnings.push({
      fields: ["albumin", "total_proteins"],
      message:
        `${reading(ALBUMIN, albumin)} is higher than ${reading(TOTAL_PROTEINS, proteins)}, ` +
        "but albumin is part of the total proteins: one of them is probably mis-entered.",
    });
  } else {
    const allowed = allowedAgRatio(albumin, proteins);
    if (ratio < allowed.low || ratio > allowed.high) {
      const expected = proteins > albumin ? albumin / (proteins - albumin) : Number.POSITIVE_INFINITY;
      warnings.push({
        fields: ["albumin_globulin_ratio", "albumin", "total_proteins"],
        message:
          `${reading(AG_RATIO, ratio)} does not fit ${reading(ALBUMIN, albumin)} and ` +
          `${reading(TOTAL_PROTEINS, proteins)}: albumin / (total proteins - albumin) is ` +
          `${Number.isFinite(expected) ? expected.toFixed(2) : "undefined (no globulins)"}. ` +
          "One of the three is probably mis-entered.",
      });
    }
  }
  return warnings;
}
