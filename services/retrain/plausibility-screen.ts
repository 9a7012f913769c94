/**
 * Screens each labelled feedback before it may train. Feedback is evidence, not command: a
 * row that looks like no patient in the original data, or whose label contradicts a very
 * confident model, is quarantined with its reason (stored, visible, released only by an
 * operator) instead of training. All checks run in the pipeline's transformed space without
 * the clinical clip (log1p where the schema says, then z-scores fitted on the original data),
 * so a value far below a normal limit still looks far out:
 *  - leverage: a value far outside the range the original data spans on any feature (in
 *    logistic regression a far-out row pulls a weight as hard as many ordinary rows);
 *  - implausible combination: a Mahalanobis distance from the original data beyond what
 *    almost any original row reaches (catches, for example, direct bilirubin far above total
 *    bilirubin, which the two features' correlation makes improbable);
 *  - contradiction: a label opposite to an answer given with at least `confidentProbability`,
 *    either by the model that answered (the probability in the signed token) or by a fixed
 *    judge fitted here on the original data alone; the judge cannot be eroded by feedback
 *    that slipped through before, however many retrains it took.
 * The cut-offs derive from the original data, so genuine in-distribution feedback is
 * rarely quarantined (the integrity benchmark measures it), and an attacker cannot move them.
 */
import type { Dataset } from "../shared/data/dataset.js";
import { choleskyFactor } from "../shared/data/synthetic-params.js";
import { FEATURE_COUNT, FEATURES } from "../shared/features/feature-schema.js";
import { fitFeaturePipeline, transformRows, type PipelineParams } from "../shared/model/feature-pipeline.js";
import { fitPlainLogistic, type PlainLogistic } from "../shared/model/logistic-fit.js";
import type { FeedbackScreen, FeedbackScreenInput, FeedbackScreenVerdict } from "./feedback-screen.js";

/** Thresholds of the screen. */
export interface PlausibilityOptions {
  /** Standard deviations beyond the original data's range a value may lie. */
  readonly rangeMarginSd: number;
  /** Share of original rows whose Mahalanobis distance lies below the cut-off, before the margin. */
  readonly distanceQuantile: number;
  /** The cut-off is that quantile's squared distance times this. */
  readonly distanceMargin: number;
  /** A label contradicting an answer at least this confident (or at most 1 - this) is quarantined. */
  readonly confidentProbability: number;
}

export const DEFAULT_PLAUSIBILITY_OPTIONS: PlausibilityOptions = {
  rangeMarginSd: 0.5,
  distanceQuantile: 0.995,
  distanceMargin: 1,
  confidentProbability: 0.95,
};

/** The original data's shape in the pipeline's space, fitted once per import. */
export class PlausibilityScreen implements FeedbackScreen {
  private readonly pipeline: PipelineParams;
  private readonly min: Float64Array;
  private readonly max: Float64Array;
  private readonly mean: Float64Array;
  /** Lower-triangular Cholesky factor of the covariance, row-major. */
  private readonly chol: number[][];
  /** Squared Mahalanobis distance above which a row is implausible. */
  readonly distanceCutoff: number;
  /** The fixed judge: logistic regression on the original data, in this space. */
  private readonly judge: PlainLogistic;
  private readonly scratch = new Float64Array(FEATURE_COUNT);
  private readonly solved = new Float64Array(FEATURE_COUNT);

  constructor(
    original: Dataset,
    private readonly options: PlausibilityOptions = DEFAULT_PLAUSIBILITY_OPTIONS,
  ) {
    if (original.rows < FEATURE_COUNT * 10) {
      throw new Error(
        `the plausibility screen needs at least ${FEATURE_COUNT * 10} original rows; got ${original.rows}`,
      );
    }
    this.pipeline = fitFeaturePipeline(original, { encoding: "plain" });
    const z = new Float64Array(original.rows * FEATURE_COUNT);
    transformRows(this.pipeline, original, z);
    this.min = new Float64Array(FEATURE_COUNT).fill(Number.POSITIVE_INFINITY);
    this.max = new Float64Array(FEATURE_COUNT).fill(Number.NEGATIVE_INFINITY);
    this.mean = new Float64Array(FEATURE_COUNT);
    for (let row = 0; row < original.rows; row++) {
      for (let i = 0; i < FEATURE_COUNT; i++) {
        const v = z[row * FEATURE_COUNT + i] ?? 0;
        this.min[i] = Math.min(this.min[i] ?? v, v);
        this.max[i] = Math.max(this.max[i] ?? v, v);
        this.mean[i] = (this.mean[i] ?? 0) + v / original.rows;
      }
    }
    const cov = new Float64Array(FEATURE_COUNT * FEATURE_COUNT);
    for (let row = 0; row < original.rows; row++) {
      for (let i = 0; i < FEATURE_COUNT; i++) {
        const di = (z[row * FEATURE_COUNT + i] ?? 0) - (this.mean[i] ?? 0);
        for (let j = 0; j <= i; j++) {
          const dj = (z[row * FEATURE_COUNT + j] ?? 0) - (this.mean[j] ?? 0);
          cov[i * FEATURE_COUNT + j] = (cov[i * FEATURE_COUNT + j] ?? 0) + (di * dj) / original.rows;
        }
      }
    }
    for (let i = 0; i < FEATURE_COUNT; i++) {
      for (let j = 0; j < i; j++) cov[j * FEATURE_COUNT + i] = cov[i * FEATURE_COUNT + j] ?? 0;
      // A small ridge keeps a (near-)constant feature from making the matrix singular.
      cov[i * FEATURE_COUNT + i] = (cov[i * FEATURE_COUNT + i] ?? 0) + 1e-6;
    }
    this.chol = choleskyFactor(cov, FEATURE_COUNT);
    this.judge = fitPlainLogistic(z, original.labels, original.rows, FEATURE_COUNT);
    const distances = new Float64Array(original.rows);
    for (let row = 0; row < original.rows; row++)
      distances[row] = this.squaredDistance(z, row * FEATURE_COUNT);
    distances.sort();
    const at = Math.min(original.rows - 1, Math.floor(options.distanceQuantile * original.rows));
    this.distanceCutoff = (distances[at] ?? 0) * options.distanceMargin;
  }

  /** Trains or quarantines one labelled feedback. */
  screen(input: FeedbackScreenInput): FeedbackScreenVerdict {
    const { confidentProbability } = this.options;
    transformRows(this.pipeline, { rows: 1, features: input.features }, this.scratch);
    // Every comparison with NaN is false: a non-finite value would pass every check below.
    if (!Number.isFinite(input.probability) || this.scratch.some((v) => !Number.isFinite(v))) {
      return quarantine("not a patient: a value or the answered probability is not a finite number");
    }
    const judged = this.judgeProbability(this.scratch);
    const labelled = input.label === 1 ? "liver disease" : "no liver disease";
    const against = (p: number): boolean =>
      input.label === 0 ? p >= confidentProbability : p <= 1 - confidentProbability;
    if (against(input.probability) || against(judged)) {
      return quarantine(
        `contradicts a very confident model: labelled ${labelled}; ${input.modelVersion} answered ` +
          `${pct(input.probability)}, the original data's model ${pct(judged)}`,
      );
    }
    const margin = this.options.rangeMarginSd;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const v = this.scratch[i] ?? 0;
      const low = (this.min[i] ?? 0) - margin;
      const high = (this.max[i] ?? 0) + margin;
      if (v < low || v > high) {
        const name = FEATURES[i]?.name ?? `feature ${i}`;
        return quarantine(
          `out-of-range leverage: ${name} = ${input.features[i]} lies ${v.toFixed(1)} standard deviations from ` +
            `the original data's mean; the original data spans ${(this.min[i] ?? 0).toFixed(1)} to ${(this.max[i] ?? 0).toFixed(1)}`,
        );
      }
    }
    const d2 = this.squaredDistance(this.scratch, 0);
    if (d2 > this.distanceCutoff) {
      return quarantine(
        `implausible combination of values: Mahalanobis distance ${Math.sqrt(d2).toFixed(1)} from the original data; ` +
          `${Math.sqrt(this.distanceCutoff).toFixed(1)} at most`,
      );
    }
    return { state: "trained" };
  }

  /** The judge's probability of liver disease for one transformed row. */
  judgeProbability(z: Float64Array): number {
    let logit = this.judge.bias;
    for (let i = 0; i < FEATURE_COUNT; i++) logit += (this.judge.weights[i] ?? 0) * (z[i] ?? 0);
    return 1 / (1 + Math.exp(-logit));
  }

  /** ‖L⁻¹ (z - mean)‖² for the row at `z[base ..]`, by forward substitution. */
  private squaredDistance(z: Float64Array, base: number): number {
    let sum = 0;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const row = this.chol[i] ?? [];
      let v = (z[base + i] ?? 0) - (this.mean[i] ?? 0);
      for (let k = 0; k < i; k++) v -= (row[k] ?? 0) * (this.solved[k] ?? 0);
      const s = v / (row[i] ?? 1);
      this.solved[i] = s;
      sum += s * s;
    }
    return sum;
  }
}

const pct = (p: number): string => `${(100 * p).toFixed(1)}%`;

function quarantine(reason: string): FeedbackScreenVerdict {
  return { state: "quarantined", reason };
}
