/**
 * What medicine already knows about the model's inputs: the adult reference interval
 * ("normal limits") of each lab value and the direction in which it moves with liver
 * disease. The trainer constrains the sign of every lab feature, explanations
 * compare each patient with the same patient's values brought within these limits, and
 * Predict's plausibility warnings and the page read them from here.
 *
 * Sources (README, "A clinically plausible model"):
 * - Reference intervals: MedlinePlus Medical Encyclopedia (U.S. National Library of
 *   Medicine), the adult ranges of its lab-test pages: "Bilirubin blood test" (total 0.1 to
 *   1.2 mg/dL, direct less than 0.3 mg/dL), "ALP - blood test" (44 to 147 IU/L), "Alanine
 *   transaminase (ALT) blood test" (4 to 36 U/L), "Aspartate aminotransferase (AST) blood
 *   test" (8 to 33 U/L), "Total protein" (6.0 to 8.3 g/dL), "Albumin - blood (serum) test"
 *   (3.4 to 5.4 g/dL). The A/G ratio has no MedlinePlus range; 1.0 to 2.5 is the commonly
 *   quoted adult range (below 1 is the "reversed" ratio of chronic liver disease).
 * - Directions: Kwo PY, Cohen SM, Lim JK. ACG Clinical Guideline: Evaluation of Abnormal
 *   Liver Chemistries. Am J Gastroenterol 2017;112:18-35 (elevated bilirubin, ALP, ALT and
 *   AST mark hepatocellular or cholestatic injury; low albumin marks impaired synthetic
 *   function), and the reversed (low) albumin/globulin ratio of chronic liver disease, where
 *   albumin falls and globulins rise. The same globulin rise (polyclonal
 *   hypergammaglobulinaemia) gives total proteins its direction at fixed albumin.
 * - Encoding: each directed lab is clipped at its healthy-side normal limit, total proteins
 *   at its lower limit; the bounds are data below, and travel in every artifact's
 *   pipeline.json, which must match them to load.
 *
 * This module has no imports on purpose: the browser bundle uses it too.
 */

/** +1: higher values go with liver disease; -1: lower values do. */
export type ClinicalDirection = 1 | -1;

/**
 * One lab value's adult reference interval, in the schema's unit, and how the model encodes
 * the value: clipped into [lower, upper] on the raw scale before log1p and the z-score.
 */
export interface ReferenceInterval {
  /** The feature's name in the schema (feature-schema.ts). */
  readonly name: string;
  readonly low: number;
  readonly high: number;
  /** The direction the model is held to (the sign of its weight). */
  readonly direction: ClinicalDirection;
  /**
   * The model reads max(value, lower): the healthy-side normal limit of a feature where
   * higher is worse (a value below it is no more evidence against disease than the limit
   * itself, and the clip caps lab-error-like extremes such as ALT 1), and total proteins'
   * floor. Undefined: no lower clip.
   */
  readonly lower: number | undefined;
  /** The model reads min(value, upper): the healthy-side normal limit where lower is worse. */
  readonly upper: number | undefined;
}

/**
 * Adult reference intervals of the ten inputs' lab values (age and gender have none), with
 * the encoding's clip bounds written out as data, one lab a line.
 *
 * Total proteins is held to +1 and floored at its lower limit: at fixed albumin (which the
 * model has) a higher total protein means more globulins, which rise in chronic liver disease
 * (polyclonal hypergammaglobulinaemia); below 6.0 g/dL a low total comes from low albumin,
 * which the albumin term already counts.
 */
// prettier-ignore
export const REFERENCE_INTERVALS: readonly ReferenceInterval[] = [
  // Sources: the MedlinePlus pages named at the top (A/G: the commonly quoted range).
  { name: "total_bilirubin",            low: 0.1, high: 1.2, direction: 1,  lower: 0.1, upper: undefined },
  { name: "direct_bilirubin",           low: 0,   high: 0.3, direction: 1,  lower: 0,   upper: undefined },
  { name: "alkaline_phosphatase",       low: 44,  high: 147, direction: 1,  lower: 44,  upper: undefined },
  { name: "alanine_aminotransferase",   low: 4,   high: 36,  direction: 1,  lower: 4,   upper: undefined },
  { name: "aspartate_aminotransferase", low: 8,   high: 33,  direction: 1,  lower: 8,   upper: undefined },
  { name: "total_proteins",             low: 6,   high: 8.3, direction: 1,  lower: 6,   upper: undefined },
  { name: "albumin",                    low: 3.4, high: 5.4, direction: -1, lower: undefined, upper: 5.4 },
  { name: "albumin_globulin_ratio",     low: 1,   high: 2.5, direction: -1, lower: undefined, upper: 2.5 },
];

/** The reference interval of `name`, or undefined for age, gender and unknown names. */
export function referenceInterval(name: string): ReferenceInterval | undefined {
  return REFERENCE_INTERVALS.find((interval) => interval.name === name);
}

/** The clinical direction of `name`, or undefined for age and gender. */
export function clinicalDirection(name: string): ClinicalDirection | undefined {
  return referenceInterval(name)?.direction;
}

/**
 * The value nearest to `value` within the normal limits of `name`: what an explanation
 * compares a lab with (the same patient, every lab brought within normal limits), so a
 * value within limits contributes nothing and one beyond contributes only what lies beyond
 * the limit. Undefined for age and gender, which have no normal limits.
 */
export function nearestNormal(name: string, value: number): number | undefined {
  const interval = referenceInterval(name);
  return interval === undefined ? undefined : Math.min(Math.max(value, interval.low), interval.high);
}

/** Raw-scale clip bounds of `name`'s encoding; none for age and gender. */
export function encodingBounds(name: string): { lower: number | undefined; upper: number | undefined } {
  const interval = referenceInterval(name);
  return { lower: interval?.lower, upper: interval?.upper };
}

/** Where `value` lies against the normal limits of `name`: -1 below, 0 within, 1 above. */
export function compareWithLimits(name: string, value: number): -1 | 0 | 1 | undefined {
  const interval = referenceInterval(name);
  if (interval === undefined) return undefined;
  if (value < interval.low) return -1;
  if (value > interval.high) return 1;
  return 0;
}
