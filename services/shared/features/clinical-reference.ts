/**
 * What medicine already knows about the model's inputs: the adult reference interval
 * ("normal limits") of each lab value and the direction in which it moves with liver
 * disease. The trainer constrains the sign of every feature with a direction, explanations
 * compare with a reference patient built from these limits, and Predict's plausibility
 * warnings and the page read them from here.
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
 *   albumin falls and globulins rise.
 *
 * This module has no imports on purpose: the browser bundle uses it too.
 */

/** +1: higher values go with liver disease; -1: lower values do. */
export type ClinicalDirection = 1 | -1;

/** One lab value's adult reference interval, in the schema's unit. */
export interface ReferenceInterval {
  /** The feature's name in the schema (feature-schema.ts). */
  readonly name: string;
  readonly low: number;
  readonly high: number;
  /**
   * The direction the model is held to. Undefined for total proteins: liver disease can
   * lower it (less synthesis) or raise it (more globulins), so no sign is imposed.
   */
  readonly direction: ClinicalDirection | undefined;
}

/** Adult reference intervals of the ten inputs' lab values (age and gender have none). */
export const REFERENCE_INTERVALS: readonly ReferenceInterval[] = [
  { name: "total_bilirubin", low: 0.1, high: 1.2, direction: 1 },
  { name: "direct_bilirubin", low: 0, high: 0.3, direction: 1 },
  { name: "alkaline_phosphatase", low: 44, high: 147, direction: 1 },
  { name: "alanine_aminotransferase", low: 4, high: 36, direction: 1 },
  { name: "aspartate_aminotransferase", low: 8, high: 33, direction: 1 },
  { name: "total_proteins", low: 6, high: 8.3, direction: undefined },
  { name: "albumin", low: 3.4, high: 5.4, direction: -1 },
  { name: "albumin_globulin_ratio", low: 1, high: 2.5, direction: -1 },
];

/** The reference interval of `name`, or undefined for age, gender and unknown names. */
export function referenceInterval(name: string): ReferenceInterval | undefined {
  return REFERENCE_INTERVALS.find((interval) => interval.name === name);
}

/** The clinical direction of `name`, or undefined when none is imposed. */
export function clinicalDirection(name: string): ClinicalDirection | undefined {
  return referenceInterval(name)?.direction;
}

/**
 * The reference patient's value of a lab: the normal limit on the disease side for a
 * feature with a direction (upper limit when higher is worse, lower limit when lower is
 * worse), the middle of the interval otherwise. So with a sign-constrained model a value
 * raises the estimate only when it lies beyond normal limits in the direction of disease,
 * and a value within normal limits never raises it. Undefined for age and gender, which
 * have no normal limits (the explanation keeps the training mean for them).
 */
export function referenceValue(name: string): number | undefined {
  const interval = referenceInterval(name);
  if (interval === undefined) return undefined;
  if (interval.direction === 1) return interval.high;
  if (interval.direction === -1) return interval.low;
  return (interval.low + interval.high) / 2;
}

/** Where `value` lies against the normal limits of `name`: -1 below, 0 within, 1 above. */
export function compareWithLimits(name: string, value: number): -1 | 0 | 1 | undefined {
  const interval = referenceInterval(name);
  if (interval === undefined) return undefined;
  if (value < interval.low) return -1;
  if (value > interval.high) return 1;
  return 0;
}
