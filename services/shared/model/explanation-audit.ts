/**
 * Counts, over many rows, the explanations a clinician would find implausible: a feature
 * with a clinical direction pushing against it, or a value beyond normal limits that is
 * said to have lowered the estimate. The real-data test holds the served model to zero,
 * and scripts/model-plausibility.ts reports the figures.
 */
import { compareWithLimits, referenceInterval } from "../features/clinical-reference.js";
import { FEATURE_COUNT, FEATURES } from "../features/feature-schema.js";
import type { Scorer } from "./scorer.js";

/** Row counts (a row counts once however many of its features qualify). */
export interface ExplanationFindings {
  readonly rows: number;
  /** Rows where a constrained feature's contribution is nonzero and its weight has the wrong sign. */
  readonly againstDirection: number;
  /** Rows where a lab beyond normal limits on the disease side lowered the estimate. */
  readonly abnormalLowered: number;
  /**
   * Rows where a lab beyond normal limits on the healthy side (a high albumin, an ALT below
   * 4) lowered the estimate: none for a model with the clinical encoding (which reads such a
   * value as the limit, and the explanation compares it with the limit); some without it.
   */
  readonly healthySideLowered: number;
  /**
   * Rows where a lab beyond its healthy-side normal limit contributes anything other than
   * the limit itself would: what the clinical encoding's clip rules out (a model with the
   * plain encoding reads an albumin of 5.8 as more reassuring than 5.4).
   */
  readonly healthySideNotAtLimit: number;
  /** Rows where total proteins outside normal limits lowered the estimate. */
  readonly totalProteinsLowered: number;
  /** Rows where any lab outside its normal limits lowered the estimate. */
  readonly anyOutsideLowered: number;
  /** Largest |reference log-odds + Σ contributions − logit of the score| over the rows. */
  readonly worstSumError: number;
}

/**
 * Explains every row of `vectors` (raw schema vectors, row-major) with `scorer` and counts
 * the findings; `kernel` is the model's weights on the standardized scale, whose signs say
 * in which direction each feature pushes.
 */
export function countExplanationFindings(
  scorer: Scorer,
  kernel: Float64Array,
  vectors: Float64Array,
  rows: number,
): ExplanationFindings {
  const intervals = FEATURES.map((spec) => referenceInterval(spec.name));
  const totalProteins = FEATURES.findIndex((spec) => spec.name === "total_proteins");
  const contributions = new Float64Array(FEATURE_COUNT);
  const atLimit = new Float64Array(FEATURE_COUNT);
  const limitContributions = new Float64Array(FEATURE_COUNT);
  let againstDirection = 0;
  let abnormalLowered = 0;
  let healthySideLowered = 0;
  let healthySideNotAtLimit = 0;
  let totalProteinsLowered = 0;
  let anyOutsideLowered = 0;
  let worstSumError = 0;
  for (let row = 0; row < rows; row++) {
    const offset = row * FEATURE_COUNT;
    const reference = scorer.explain(vectors, offset, contributions);
    const p = scorer.score(vectors, offset);
    let sum = reference;
    let against = false;
    let diseaseSide = false;
    let healthySide = false;
    let notAtLimit = false;
    let outside = false;
    let proteins = false;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const c = contributions[i] ?? 0;
      sum += c;
      const interval = intervals[i];
      if (interval === undefined) continue;
      const { direction } = interval;
      if (c !== 0 && direction * (kernel[i] ?? 0) < 0) against = true;
      const value = vectors[offset + i] ?? 0;
      const side = compareWithLimits(interval.name, value);
      if (side === undefined || side === 0) continue;
      if (side !== direction) {
        // Beyond the healthy-side limit: must count exactly as the limit itself.
        atLimit.set(vectors.subarray(offset, offset + FEATURE_COUNT));
        atLimit[i] = direction === 1 ? interval.low : interval.high;
        scorer.explain(atLimit, 0, limitContributions);
        if (limitContributions[i] !== c) notAtLimit = true;
      }
      if (!(c < 0)) continue;
      outside = true;
      if (i === totalProteins) proteins = true;
      if (side === direction) diseaseSide = true;
      else healthySide = true;
    }
    worstSumError = Math.max(worstSumError, Math.abs(sum - (Math.log(p) - Math.log1p(-p))));
    if (against) againstDirection++;
    if (diseaseSide) abnormalLowered++;
    if (healthySide) healthySideLowered++;
    if (notAtLimit) healthySideNotAtLimit++;
    if (proteins) totalProteinsLowered++;
    if (outside) anyOutsideLowered++;
  }
  return {
    rows,
    againstDirection,
    abnormalLowered,
    healthySideLowered,
    healthySideNotAtLimit,
    totalProteinsLowered,
    anyOutsideLowered,
    worstSumError,
  };
}
