/**
 * Fits the site recalibration (see output-calibration.ts) from labelled feedback: a
 * two-parameter logistic regression of the label on the base model's log-odds (logistic-fit.ts)
 * with a Gaussian prior that pulls toward the identity (so a handful of rows barely
 * move it). The fit is checked on feedback it did not see, and applied only when
 *  - there is enough feedback of both classes, from enough distinct sources (one source,
 *    however much it sends, cannot recalibrate the model alone),
 *  - the slope is clearly positive (the feedback ranks patients as the model does: flipped or
 *    arbitrary labels give a slope near or below zero and change nothing),
 *  - it stays within CALIBRATION_BOUNDS,
 *  - and it lowers the held-out feedback's log loss.
 * Then it is refitted on all the feedback. Everything it decided is recorded with figures.
 */
import { CALIBRATION_BOUNDS, type CalibrationRecord, type OutputCalibration } from "./output-calibration.js";
import { fitLogistic, logLoss } from "./logistic-fit.js";

/** Thresholds of the fit. */
const LIMITS = {
  /** Labelled rows needed before anything is fitted. */
  minRows: 100,
  /** Rows of each class needed among them. */
  minPerClass: 10,
  /** Prior strength: the weight, in rows, of the pull toward slope 1, intercept 0. */
  priorRows: 20,
  /** Held-out log loss must improve by at least this much. */
  minImprovement: 0.005,
  /** Distinct feedback sources needed, when the input says how many there are. */
  minSources: 3,
} as const;

/** Base log-odds and labels of labelled feedback, and which rows are held out for the check. */
export interface RecalibrationInput {
  readonly logits: Float64Array;
  readonly labels: Uint8Array;
  /** 1 where the row is held out to check the fit (a stable function of the feedback id). */
  readonly heldOut: Uint8Array;
  /** How many distinct sources the rows come from; undefined when unknown (not checked). */
  readonly sources?: number | undefined;
}

/**
 * Fits slope and intercept on the rows where `include(i)`: the summed log loss plus
 * priorRows/2 · ((slope − 1)² + intercept²), the prior pulling toward the identity.
 */
export function fitLogitMap(
  logits: Float64Array,
  labels: Uint8Array,
  include: (i: number) => boolean,
  priorRows: number,
): OutputCalibration {
  const input = (i: number, x: Float64Array): number => {
    x[0] = logits[i] ?? 0;
    x[1] = 1;
    return 0;
  };
  const { theta } = fitLogistic(
    { rows: logits.length, labels, input, include },
    { start: [1, 0], precision: [priorRows, priorRows], centre: [1, 0] },
  );
  return { slope: theta[0] ?? 1, intercept: theta[1] ?? 0 };
}

/** Mean log loss (logistic-fit.ts) of the calibrated answers on the rows where `include(i)`. */
function meanLogLoss(
  input: RecalibrationInput,
  calibration: OutputCalibration,
  include: (i: number) => boolean,
): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < input.logits.length; i++) {
    if (!include(i)) continue;
    sum += logLoss(calibration.slope * (input.logits[i] ?? 0) + calibration.intercept, input.labels[i] ?? 0);
    n++;
  }
  return n === 0 ? Number.NaN : sum / n;
}

/** Fits, checks and bounds the site recalibration; the identity with a reason when it does not apply. */
export function fitSiteRecalibration(input: RecalibrationInput): CalibrationRecord {
  const rows = input.logits.length;
  const isFit = (i: number): boolean => input.heldOut[i] !== 1;
  const isCheck = (i: number): boolean => input.heldOut[i] === 1;
  let fitRows = 0;
  let positives = 0;
  for (let i = 0; i < rows; i++) {
    if (isFit(i)) fitRows++;
    positives += input.labels[i] ?? 0;
  }
  const checkRows = rows - fitRows;
  const identity = { slope: 1, intercept: 0 };
  const checkBase = meanLogLoss(input, identity, isCheck);
  const keep = (reason: string, recalibrated = Number.NaN): CalibrationRecord => ({
    formatVersion: 1,
    ...identity,
    applied: false,
    reason,
    fitRows,
    checkRows,
    checkLogLossBase: checkBase,
    checkLogLossRecalibrated: recalibrated,
  });
  const negatives = rows - positives;
  if (rows < LIMITS.minRows) {
    return keep(`not recalibrated: ${rows} labelled feedback rows, ${LIMITS.minRows} needed`);
  }
  if (input.sources !== undefined && input.sources < LIMITS.minSources) {
    return keep(
      `not recalibrated: the feedback comes from ${input.sources} source${input.sources === 1 ? "" : "s"}; ` +
        `${LIMITS.minSources} needed, so that no one source can recalibrate the model alone`,
    );
  }
  if (positives < LIMITS.minPerClass || negatives < LIMITS.minPerClass) {
    return keep(
      `not recalibrated: ${positives} liver-disease and ${negatives} other labels; ${LIMITS.minPerClass} of each needed`,
    );
  }
  const trial = fitLogitMap(input.logits, input.labels, isFit, LIMITS.priorRows);
  const { minSlope, maxSlope, maxAbsIntercept } = CALIBRATION_BOUNDS;
  const described = `slope ${trial.slope.toFixed(3)}, intercept ${trial.intercept.toFixed(3)}`;
  if (!(trial.slope >= minSlope)) {
    return keep(
      `not recalibrated: the feedback does not rank patients as the model does (${described}; slope ${minSlope} or more needed)`,
    );
  }
  if (trial.slope > maxSlope || Math.abs(trial.intercept) > maxAbsIntercept) {
    return keep(
      `not recalibrated: the fit (${described}) is outside the bounds (slope ${minSlope}-${maxSlope}, |intercept| <= ${maxAbsIntercept})`,
    );
  }
  const checkTrial = meanLogLoss(input, trial, isCheck);
  if (!(checkTrial <= checkBase - LIMITS.minImprovement)) {
    return keep(
      `not recalibrated: on ${checkRows} held-out feedback rows the fit (${described}) scores log loss ` +
        `${checkTrial.toFixed(4)} vs the model's ${checkBase.toFixed(4)}; an improvement of ${LIMITS.minImprovement} is needed`,
      checkTrial,
    );
  }
  const final = fitLogitMap(input.logits, input.labels, () => true, LIMITS.priorRows);
  const slope = Math.min(Math.max(final.slope, minSlope), maxSlope);
  const intercept = Math.min(Math.max(final.intercept, -maxAbsIntercept), maxAbsIntercept);
  return {
    formatVersion: 1,
    slope,
    intercept,
    applied: true,
    reason:
      `recalibrated on ${rows} labelled feedback rows: slope ${slope.toFixed(3)}, intercept ${intercept.toFixed(3)}; ` +
      `held-out log loss ${checkTrial.toFixed(4)} vs the model's ${checkBase.toFixed(4)}`,
    fitRows,
    checkRows,
    checkLogLossBase: checkBase,
    checkLogLossRecalibrated: checkTrial,
  };
}
