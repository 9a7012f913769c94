/**
 * Counts, over many rows, the explanations a clinician would find implausible: a feature
 * with a clinical direction pushing against it, or a value beyond normal limits that is
 * said to have lowered the estimate. The real-data test holds the served model to zero,
 * and scripts/model-plausibility.ts reports the figures.
 */
import { clinicalDirection, compareWithLimits } from "../features/clinical-reference.js";
import { FEATURE_COUNT, FEATURES } from "../features/feature-schema.js";
import type { Scorer } from "./scorer.js";

/** Row counts (a row counts once however many of its features qualify). */
export interface ExplanationFindings {
  readonly rows: number;
  /** Rows where a constrained feature's contribution is nonzero and its weight has the wrong sign. */
  readonly againstDirection: number;
  /** Rows where a constrained lab beyond normal limits on the disease side lowered the estimate. */
  readonly abnormalLowered: number;
  /**
   * Rows where a constrained lab beyond normal limits on the healthy side (a low ALT, a high
   * albumin) lowered the estimate: clinically consistent, counted for the record.
   */
  readonly healthySideLowered: number;
  /** Rows where total proteins (no imposed direction) outside normal limits lowered the estimate. */
  readonly undirectedOutsideLowered: number;
  /** Rows where any lab outside its normal limits lowered the estimate (the three above together). */
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
  const directions = FEATURES.map((spec) => clinicalDirection(spec.name));
  const contributions = new Float64Array(FEATURE_COUNT);
  let againstDirection = 0;
  let abnormalLowered = 0;
  let healthySideLowered = 0;
  let undirectedOutsideLowered = 0;
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
    let undirected = false;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const c = contributions[i] ?? 0;
      sum += c;
      const direction = directions[i];
      const spec = FEATURES[i];
      if (spec === undefined) continue;
      if (direction !== undefined && c !== 0 && direction * (kernel[i] ?? 0) < 0) against = true;
      const side = compareWithLimits(spec.name, vectors[offset + i] ?? 0);
      if (side === undefined || side === 0 || !(c < 0)) continue;
      if (direction === undefined) undirected = true;
      else if (side === direction) diseaseSide = true;
      else healthySide = true;
    }
    worstSumError = Math.max(worstSumError, Math.abs(sum - (Math.log(p) - Math.log1p(-p))));
    if (against) againstDirection++;
    if (diseaseSide) abnormalLowered++;
    if (healthySide) healthySideLowered++;
    if (undirected) undirectedOutsideLowered++;
    if (diseaseSide || healthySide || undirected) anyOutsideLowered++;
  }
  return {
    rows,
    againstDirection,
    abnormalLowered,
    healthySideLowered,
    undirectedOutsideLowered,
    anyOutsideLowered,
    worstSumError,
  };
}
