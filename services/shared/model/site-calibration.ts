/**
 * One site's calibration of the base model, chosen by the closed testing procedure for
 * updating prediction models (Vergouwe et al., Stat Med 2017) on that site's labelled
 * feedback, on the base model's log-odds z:
 *   M0  keep the model            logit = z
 *   M1  recalibrate the intercept logit = z + a
 *   M2  intercept and slope       logit = a + b·z
 * Likelihood-ratio tests decide: M2 against M0 (2 df); when that is significant, M2 against
 * M1 (1 df) says whether the slope is needed too; otherwise the model is kept.
 *
 * Small sites borrow strength random-intercept style: the chosen parameters are estimated
 * with a normal prior centred on the base model (a ~ N(0, τa²), b - 1 ~ N(0, τb²)), which is
 * what every site shares, because the base model is fitted on all sites' data (the pooled
 * calibration). A site's estimate is thus shrunk toward the pooled one by τ²/(τ² + its own
 * variance): little data, little movement. τ is fixed, not estimated from the other sites, so
 * one site's feedback never changes another site's calibration. The whole procedure is run
 * on three quarters of the site's rows and checked on the rest; if it does not lower the
 * held-out log loss, the model is kept: a small site is never worse off than uncalibrated.
 */
import { CALIBRATION_BOUNDS, type OutputCalibration } from "./output-calibration.js";
import { fitLogistic, logLoss } from "./logistic-fit.js";
import { sigmoid } from "./scorer.js";

/** Which update the closed test chose. */
export type SiteCalibrationMethod = "keep" | "intercept" | "intercept-and-slope";

/** A 95 % interval. */
export interface Interval {
  readonly low: number;
  readonly high: number;
}

/** A site's calibration and the evidence behind it (what ListModelVersions and people see). */
export interface SiteCalibration extends OutputCalibration {
  readonly site: string;
  readonly method: SiteCalibrationMethod;
  /** 95 % intervals of the served intercept and slope (posterior, after shrinkage). */
  readonly interceptInterval: Interval;
  readonly slopeInterval: Interval;
  /** Labelled rows, liver-disease labels among them, and distinct sources. */
  readonly rows: number;
  readonly events: number;
  readonly sources: number;
  /** Rows the procedure was chosen on and held out to check it. */
  readonly fitRows: number;
  readonly checkRows: number;
  /** Held-out log loss of the base model and of the calibration chosen without those rows (NaN: none held out). */
  readonly checkLogLossBefore: number;
  readonly checkLogLossAfter: number;
  /** Observed / expected liver-disease labels under the base model, with its interval. */
  readonly observedExpected: number;
  readonly observedExpectedInterval: Interval;
  /** Likelihood-ratio statistics: M2 vs M0 (2 df) and M2 vs M1 (1 df), on the fit rows. */
  readonly lrOverall: number;
  readonly lrSlope: number;
  /** τ²/(τ² + variance) of the intercept: 0 pooled entirely, 1 the site's own estimate. */
  readonly shrinkage: number;
  readonly reason: string;
}

/** Settings of the procedure. */
export interface SiteCalibrationOptions {
  /** Rows needed before anything is tested. */
  readonly minRows: number;
  /** Distinct sources needed (no one clinician recalibrates a site alone). */
  readonly minSources: number;
  /** Prior SD of a site's intercept and of its slope's departure from 1 (log-odds). */
  readonly interceptSd: number;
  readonly slopeSd: number;
  /** χ² critical values at α = 0.05 for 2 and 1 degrees of freedom. */
  readonly chiSquare2: number;
  readonly chiSquare1: number;
}

export const DEFAULT_SITE_CALIBRATION_OPTIONS: SiteCalibrationOptions = {
  minRows: 40,
  minSources: 3,
  interceptSd: 0.5,
  slopeSd: 0.25,
  chiSquare2: 5.991,
  chiSquare1: 3.841,
};

/** A site's labelled feedback as base log-odds, and which rows are held out. */
export interface SiteFeedback {
  readonly site: string;
  readonly logits: Float64Array;
  readonly labels: Uint8Array;
  readonly heldOut: Uint8Array;
  readonly sources: number;
}

interface Fit {
  readonly a: number;
  readonly b: number;
  /** Log likelihood (without the prior). */
  readonly logLik: number;
  /** Posterior covariance entries (inverse of the penalized Hessian). */
  readonly varA: number;
  readonly varB: number;
}

function logLikelihood(
  z: Float64Array,
  y: Uint8Array,
  include: (i: number) => boolean,
  a: number,
  b: number,
): number {
  let sum = 0;
  for (let i = 0; i < z.length; i++) if (include(i)) sum -= logLoss(a + b * (z[i] ?? 0), y[i] ?? 0);
  return sum;
}

/**
 * Maximizes the (penalized) log likelihood of logit = a + b·z (logistic-fit.ts). `slope`
 * false fixes b = 1 (the intercept-only update, z an offset). Precisions of 0 mean no prior
 * (maximum likelihood, as the tests need). The variances invert the penalized Hessian.
 */
function fit(
  z: Float64Array,
  y: Uint8Array,
  include: (i: number) => boolean,
  slope: boolean,
  precisionA: number,
  precisionB: number,
): Fit {
  const problem = {
    rows: z.length,
    labels: y,
    include,
    input: (i: number, x: Float64Array): number => {
      x[0] = 1;
      if (!slope) return z[i] ?? 0;
      x[1] = z[i] ?? 0;
      return 0;
    },
  };
  if (!slope) {
    const { theta, hessian } = fitLogistic(problem, { start: [0], precision: [precisionA] });
    const a = theta[0] ?? 0;
    const haa = hessian[0] ?? 0;
    const varA = haa > 0 ? 1 / haa : Number.POSITIVE_INFINITY;
    return { a, b: 1, logLik: logLikelihood(z, y, include, a, 1), varA, varB: 0 };
  }
  const { theta, hessian } = fitLogistic(problem, {
    start: [0, 1],
    precision: [precisionA, precisionB],
    centre: [0, 1],
  });
  const [a = 0, b = 1] = theta;
  const [haa = 0, hab = 0, , hbb = 0] = hessian;
  const det = haa * hbb - hab * hab;
  return {
    a,
    b,
    logLik: logLikelihood(z, y, include, a, b),
    varA: det > 0 ? hbb / det : Number.POSITIVE_INFINITY,
    varB: det > 0 ? haa / det : Number.POSITIVE_INFINITY,
  };
}

function meanLogLoss(feedback: SiteFeedback, include: (i: number) => boolean, a: number, b: number): number {
  let n = 0;
  for (let i = 0; i < feedback.logits.length; i++) if (include(i)) n++;
  return n === 0 ? Number.NaN : -logLikelihood(feedback.logits, feedback.labels, include, a, b) / n;
}

interface Choice {
  readonly method: SiteCalibrationMethod;
  readonly lrOverall: number;
  readonly lrSlope: number;
}

/** The closed test on the rows where `include(i)`. */
function closedTest(
  feedback: SiteFeedback,
  include: (i: number) => boolean,
  options: SiteCalibrationOptions,
): Choice {
  const { logits: z, labels: y } = feedback;
  const l0 = logLikelihood(z, y, include, 0, 1);
  const l1 = fit(z, y, include, false, 0, 0).logLik;
  const l2 = fit(z, y, include, true, 0, 0).logLik;
  const lrOverall = Math.max(0, 2 * (l2 - l0));
  const lrSlope = Math.max(0, 2 * (l2 - l1));
  if (!(lrOverall >= options.chiSquare2)) return { method: "keep", lrOverall, lrSlope };
  return { method: lrSlope >= options.chiSquare1 ? "intercept-and-slope" : "intercept", lrOverall, lrSlope };
}

/** The chosen update's shrunk estimate on the rows where `include(i)`; the identity for "keep". */
function estimate(
  feedback: SiteFeedback,
  include: (i: number) => boolean,
  method: SiteCalibrationMethod,
  options: SiteCalibrationOptions,
): Fit {
  if (method === "keep") return { a: 0, b: 1, logLik: Number.NaN, varA: 0, varB: 0 };
  return fit(
    feedback.logits,
    feedback.labels,
    include,
    method === "intercept-and-slope",
    1 / (options.interceptSd * options.interceptSd),
    1 / (options.slopeSd * options.slopeSd),
  );
}

function interval(value: number, variance: number): Interval {
  const half = 1.959964 * Math.sqrt(Math.max(0, variance));
  return { low: value - half, high: value + half };
}

/**
 * Observed / expected events and its 95 % interval, exp(ln(O/E) ± 1.96/√O) (the usual
 * Poisson approximation, as in multicentre validation studies).
 */
export function observedExpected(observed: number, expected: number): { ratio: number; interval: Interval } {
  const ratio = expected > 0 ? observed / expected : Number.NaN;
  if (!(observed > 0) || !(ratio > 0)) return { ratio, interval: { low: 0, high: Number.POSITIVE_INFINITY } };
  const half = 1.959964 / Math.sqrt(observed);
  return { ratio, interval: { low: ratio * Math.exp(-half), high: ratio * Math.exp(half) } };
}

/** Runs the closed test, the shrinkage and the held-out check for one site. */
export function fitSiteCalibration(
  feedback: SiteFeedback,
  options: SiteCalibrationOptions = DEFAULT_SITE_CALIBRATION_OPTIONS,
): SiteCalibration {
  const rows = feedback.logits.length;
  let events = 0;
  let expected = 0;
  let checkRows = 0;
  for (let i = 0; i < rows; i++) {
    events += feedback.labels[i] === 1 ? 1 : 0;
    expected += sigmoid(feedback.logits[i] ?? 0);
    checkRows += feedback.heldOut[i] === 1 ? 1 : 0;
  }
  const all = (): boolean => true;
  const isFit = (i: number): boolean => feedback.heldOut[i] !== 1;
  const isCheck = (i: number): boolean => feedback.heldOut[i] === 1;
  const oe = observedExpected(events, expected);
  const before = meanLogLoss(feedback, isCheck, 0, 1);
  const base = {
    site: feedback.site,
    rows,
    events,
    sources: feedback.sources,
    fitRows: rows - checkRows,
    checkRows,
    checkLogLossBefore: before,
    observedExpected: oe.ratio,
    observedExpectedInterval: oe.interval,
  };
  const keep = (reason: string, choice?: Choice, after = before): SiteCalibration => ({
    ...base,
    method: "keep",
    slope: 1,
    intercept: 0,
    interceptInterval: { low: 0, high: 0 },
    slopeInterval: { low: 1, high: 1 },
    checkLogLossAfter: after,
    lrOverall: choice?.lrOverall ?? 0,
    lrSlope: choice?.lrSlope ?? 0,
    shrinkage: 0,
    reason,
  });
  if (rows < options.minRows) return keep(`kept: ${rows} labelled rows, ${options.minRows} needed`);
  if (feedback.sources < options.minSources) {
    return keep(
      `kept: the feedback comes from ${feedback.sources} source(s); ${options.minSources} needed, so no one source recalibrates the site`,
    );
  }
  if (events === 0 || events === rows) return keep(`kept: all ${rows} labels are of one class`);

  // Chosen without the held-out rows, then checked on them.
  const trialChoice = closedTest(feedback, isFit, options);
  const trial = estimate(feedback, isFit, trialChoice.method, options);
  const after = checkRows === 0 ? Number.NaN : meanLogLoss(feedback, isCheck, trial.a, trial.b);
  if (trialChoice.method !== "keep" && checkRows > 0 && !(after < before)) {
    return keep(
      `kept: the ${trialChoice.method} update chosen on ${rows - checkRows} rows scores held-out log loss ${after.toFixed(4)} vs the model's ${before.toFixed(4)}`,
      trialChoice,
      after,
    );
  }
  const choice = closedTest(feedback, all, options);
  if (choice.method === "keep") {
    return keep(
      `kept: likelihood-ratio ${choice.lrOverall.toFixed(2)} against the model (2 df) is below ${options.chiSquare2}`,
      choice,
    );
  }
  const final = estimate(feedback, all, choice.method, options);
  const { minSlope, maxSlope, maxAbsIntercept } = CALIBRATION_BOUNDS;
  if (!(final.b >= minSlope)) {
    return keep(
      `kept: the slope ${final.b.toFixed(3)} says the feedback does not rank patients as the model does`,
      choice,
    );
  }
  const intercept = Math.min(Math.max(final.a, -maxAbsIntercept), maxAbsIntercept);
  const slope = Math.min(Math.max(final.b, minSlope), maxSlope);
  // The intercept's own (unpenalized) variance is about 1/Σw; the prior's is τ².
  const ownVariance = fit(
    feedback.logits,
    feedback.labels,
    all,
    choice.method === "intercept-and-slope",
    0,
    0,
  ).varA;
  const tau2 = options.interceptSd * options.interceptSd;
  return {
    ...base,
    method: choice.method,
    intercept,
    slope,
    interceptInterval: interval(intercept, final.varA),
    slopeInterval:
      choice.method === "intercept-and-slope" ? interval(slope, final.varB) : { low: 1, high: 1 },
    checkLogLossAfter: after,
    lrOverall: choice.lrOverall,
    lrSlope: choice.lrSlope,
    shrinkage: tau2 / (tau2 + ownVariance),
    reason:
      `${choice.method === "intercept" ? "intercept recalibrated" : "intercept and slope recalibrated"} on ${rows} rows ` +
      `(likelihood ratio ${choice.lrOverall.toFixed(2)} vs the model, ${choice.lrSlope.toFixed(2)} for the slope): ` +
      `intercept ${intercept.toFixed(3)}, slope ${slope.toFixed(3)}`,
  };
}
