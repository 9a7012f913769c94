/**
 * Binary classification metrics for the holdout gate and the model history. Plain JS over
 * typed arrays so the same numbers come out in a worker, a service or a test.
 */

/** Counts at a decision threshold; "positive" is liver disease (label 1). */
export interface ConfusionMatrix {
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly trueNegatives: number;
  readonly falseNegatives: number;
}

/** Everything the gate and the UI show about one model on one set of rows. */
export interface BinaryMetrics {
  readonly rows: number;
  readonly positives: number;
  /** Area under the ROC curve; tied scores count one half. */
  readonly rocAuc: number;
  /** Share of rows classified correctly at `threshold`. */
  readonly accuracy: number;
  /** Mean negative log-likelihood, the true class's probability clipped to [1e-15, 1 - 1e-15]. */
  readonly logLoss: number;
  /** Mean squared error of the probability. */
  readonly brier: number;
  /** A row is predicted positive when its probability is >= threshold. */
  readonly threshold: number;
  readonly confusion: ConfusionMatrix;
  /**
   * Reliability table and expected calibration error. Absent in the metrics of versions
   * trained before calibration was measured (their stored rows stay readable).
   */
  readonly calibration?: Calibration;
}

/** One bin of a reliability table: rows whose probability fell in [lower, upper). */
export interface ReliabilityBin {
  readonly lower: number;
  /** Exclusive, except for the last bin, which includes 1. */
  readonly upper: number;
  readonly rows: number;
  /** Mean predicted probability of the bin's rows; 0 when the bin is empty. */
  readonly meanPredicted: number;
  /** Share of the bin's rows that were positive; 0 when the bin is empty. */
  readonly observedRate: number;
}

/** How far predicted probabilities are from observed rates. */
export interface Calibration {
  /** Equal-width bins over [0, 1], in order; empty bins included. */
  readonly bins: readonly ReliabilityBin[];
  /**
   * Expected calibration error: the row-weighted mean of |observed rate - mean predicted|
   * over the bins, 0 to 1 (0 is perfectly calibrated).
   */
  readonly expectedCalibrationError: number;
}

/** Bins of the reliability table: ten of width 0.1, the usual choice for a few thousand rows. */
export const CALIBRATION_BINS = 10;

/** Labels are 0/1 per row; scores are probabilities (or any monotone score for AUC). */
type Labels = ArrayLike<number>;
type Scores = ArrayLike<number>;

/** Probability clip for log loss, as scikit-learn does, so a confident miss is finite. */
export const LOG_LOSS_EPSILON = 1e-15;

/** Default decision threshold. */
export const DEFAULT_THRESHOLD = 0.5;

function checkLengths(labels: Labels, scores: Scores): void {
  if (labels.length !== scores.length) {
    throw new Error(`labels has ${labels.length} rows but scores has ${scores.length}`);
  }
  if (labels.length === 0) throw new Error("metrics need at least one row; got 0");
}

/**
 * ROC AUC: the probability that a random positive scores above a random negative, ties
 * counting one half (the Mann-Whitney U statistic). Sorts each class's scores with the
 * native typed-array sort and merges them, which is exact for ties and O(n log n).
 */
export function rocAuc(labels: Labels, scores: Scores): number {
  checkLengths(labels, scores);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === 1) positives++;
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) {
    throw new Error(`ROC AUC needs both classes; got ${positives} positive and ${negatives} negative rows`);
  }
  const pos = new Float64Array(positives);
  const neg = new Float64Array(negatives);
  let p = 0;
  let n = 0;
  for (let i = 0; i < labels.length; i++) {
    const score = scores[i] ?? Number.NaN;
    if (Number.isNaN(score)) throw new Error(`score of row ${i} is NaN`);
    if (labels[i] === 1) pos[p++] = score;
    else neg[n++] = score;
  }
  pos.sort();
  neg.sort();
  // For each positive: negatives strictly below it count 1, equal ones 1/2.
  let below = 0;
  let upTo = 0;
  let wins = 0;
  for (let i = 0; i < positives; i++) {
    const score = pos[i] ?? 0;
    while (below < negatives && (neg[below] ?? 0) < score) below++;
    if (upTo < below) upTo = below;
    while (upTo < negatives && (neg[upTo] ?? 0) <= score) upTo++;
    wins += below + (upTo - below) / 2;
  }
  return wins / (positives * negatives);
}

/** Counts of the four outcomes when probability >= threshold means "positive". */
export function confusionMatrix(
  labels: Labels,
  probabilities: Scores,
  threshold = DEFAULT_THRESHOLD,
): ConfusionMatrix {
  checkLengths(labels, probabilities);
  let truePositives = 0;
  let falsePositives = 0;
  let trueNegatives = 0;
  let falseNegatives = 0;
  for (let i = 0; i < labels.length; i++) {
    const predicted = (probabilities[i] ?? Number.NaN) >= threshold;
    if (labels[i] === 1) {
      if (predicted) truePositives++;
      else falseNegatives++;
    } else if (predicted) falsePositives++;
    else trueNegatives++;
  }
  return { truePositives, falsePositives, trueNegatives, falseNegatives };
}

/** Share of rows whose thresholded prediction equals the label. */
export function accuracy(labels: Labels, probabilities: Scores, threshold = DEFAULT_THRESHOLD): number {
  const c = confusionMatrix(labels, probabilities, threshold);
  return (c.truePositives + c.trueNegatives) / labels.length;
}

/** Mean negative log-likelihood, the true class's probability clipped to [eps, 1 - eps]. */
export function logLoss(labels: Labels, probabilities: Scores, eps = LOG_LOSS_EPSILON): number {
  checkLengths(labels, probabilities);
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = probabilities[i] ?? Number.NaN;
    // Clip the probability given to the true class, so both classes clip at exactly eps.
    const pTrue = labels[i] === 1 ? p : 1 - p;
    total -= Math.log(Math.min(1 - eps, Math.max(eps, pTrue)));
  }
  return total / labels.length;
}

/** Mean squared difference between probability and label. */
export function brierScore(labels: Labels, probabilities: Scores): number {
  checkLengths(labels, probabilities);
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    const d = (probabilities[i] ?? Number.NaN) - (labels[i] === 1 ? 1 : 0);
    total += d * d;
  }
  return total / labels.length;
}

/**
 * The reliability table over `bins` equal-width bins of the predicted probability and the
 * expected calibration error (Naeini et al. 2015; Guo et al. 2017). Equal-width bins keep
 * every version's table on the same grid, so tables compare across versions.
 */
export function calibration(labels: Labels, probabilities: Scores, bins = CALIBRATION_BINS): Calibration {
  checkLengths(labels, probabilities);
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`calibration needs 1 or more bins; got ${bins}`);
  const rows = new Float64Array(bins);
  const sums = new Float64Array(bins);
  const positives = new Float64Array(bins);
  for (let i = 0; i < labels.length; i++) {
    const p = probabilities[i] ?? Number.NaN;
    if (!(p >= 0 && p <= 1)) throw new Error(`probability of row ${i} is ${p}; valid range is 0 to 1`);
    const bin = Math.min(bins - 1, Math.floor(p * bins));
    rows[bin] = (rows[bin] ?? 0) + 1;
    sums[bin] = (sums[bin] ?? 0) + p;
    if (labels[i] === 1) positives[bin] = (positives[bin] ?? 0) + 1;
  }
  let error = 0;
  const table = Array.from({ length: bins }, (_, b): ReliabilityBin => {
    const count = rows[b] ?? 0;
    const meanPredicted = count === 0 ? 0 : (sums[b] ?? 0) / count;
    const observedRate = count === 0 ? 0 : (positives[b] ?? 0) / count;
    error += (count / labels.length) * Math.abs(observedRate - meanPredicted);
    return { lower: b / bins, upper: (b + 1) / bins, rows: count, meanPredicted, observedRate };
  });
  return { bins: table, expectedCalibrationError: error };
}

/**
 * A calibration as the liver.v1.Calibration message holds it (same field names, mutable
 * arrays); undefined stays undefined, so older versions answer without one.
 */
export function calibrationMessage(
  value: Calibration | undefined,
): { bins: ReliabilityBin[]; expectedCalibrationError: number } | undefined {
  if (value === undefined) return undefined;
  return {
    bins: value.bins.map((bin) => ({ ...bin })),
    expectedCalibrationError: value.expectedCalibrationError,
  };
}

/** All metrics at once, as stored in metrics.json and compared by the gate. */
export function evaluateBinary(
  labels: Labels,
  probabilities: Scores,
  threshold = DEFAULT_THRESHOLD,
): BinaryMetrics {
  const confusion = confusionMatrix(labels, probabilities, threshold);
  return {
    rows: labels.length,
    positives: confusion.truePositives + confusion.falseNegatives,
    rocAuc: rocAuc(labels, probabilities),
    accuracy: (confusion.truePositives + confusion.trueNegatives) / labels.length,
    logLoss: logLoss(labels, probabilities),
    brier: brierScore(labels, probabilities),
    threshold,
    confusion,
    calibration: calibration(labels, probabilities),
  };
}

/** How the fit went on the training side (feedback rows included). */
export interface TrainingSummary {
  readonly rows: number;
  readonly positives: number;
  /** Mean log loss on the training rows. */
  readonly loss: number;
  /** loss + the L1 penalty: what the trainer minimized. */
  readonly objective: number;
  readonly iterations: number;
  readonly converged: boolean;
  readonly l1: number;
  /** Weights the L1 penalty set to exactly zero. */
  readonly zeroWeights: number;
}

/** Contents of an artifact's metrics.json: holdout metrics for the gate, and the fit summary. */
export interface ModelMetrics {
  readonly holdout: BinaryMetrics;
  readonly training: TrainingSummary;
}

function field(record: Record<string, unknown>, path: string, name: string): unknown {
  if (!(name in record)) throw new Error(`metrics.json: ${path}${name} is missing`);
  return record[name];
}

function numberField(record: Record<string, unknown>, path: string, name: string): number {
  const value = field(record, path, name);
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new Error(`metrics.json: ${path}${name} must be a finite number; got ${JSON.stringify(value)}`);
  }
  return value;
}

function objectField(record: Record<string, unknown>, path: string, name: string): Record<string, unknown> {
  const value = field(record, path, name);
  if (typeof value !== "object" || value === null)
    throw new Error(`metrics.json: ${path}${name} must be an object`);
  return value as Record<string, unknown>;
}

/** Validates metrics.json's optional holdout.calibration (absent in older artifacts). */
function parseCalibration(h: Record<string, unknown>): Calibration | undefined {
  if (!("calibration" in h)) return undefined;
  const c = objectField(h, "holdout.", "calibration");
  const list = field(c, "holdout.calibration.", "bins");
  if (!Array.isArray(list) || list.length === 0) {
    throw new Error("metrics.json: holdout.calibration.bins must be a non-empty array");
  }
  const bins = list.map((entry: unknown, i): ReliabilityBin => {
    if (typeof entry !== "object" || entry === null) {
      throw new Error(`metrics.json: holdout.calibration.bins[${i}] must be an object`);
    }
    const b = entry as Record<string, unknown>;
    const path = `holdout.calibration.bins[${i}].`;
    return {
      lower: numberField(b, path, "lower"),
      upper: numberField(b, path, "upper"),
      rows: numberField(b, path, "rows"),
      meanPredicted: numberField(b, path, "meanPredicted"),
      observedRate: numberField(b, path, "observedRate"),
    };
  });
  return {
    bins,
    expectedCalibrationError: numberField(c, "holdout.calibration.", "expectedCalibrationError"),
  };
}

/** Validates parsed metrics.json, naming the first bad field. */
export function parseModelMetrics(json: unknown): ModelMetrics {
  if (typeof json !== "object" || json === null) throw new Error("metrics.json: expected a JSON object");
  const root = json as Record<string, unknown>;
  const h = objectField(root, "", "holdout");
  const c = objectField(h, "holdout.", "confusion");
  const t = objectField(root, "", "training");
  const converged = field(t, "training.", "converged");
  if (typeof converged !== "boolean") throw new Error("metrics.json: training.converged must be a boolean");
  const rocAucValue = numberField(h, "holdout.", "rocAuc");
  const calibrationValue = parseCalibration(h);
  if (rocAucValue < 0 || rocAucValue > 1) {
    throw new Error(`metrics.json: holdout.rocAuc is ${rocAucValue}; valid range is 0 to 1`);
  }
  return {
    holdout: {
      rows: numberField(h, "holdout.", "rows"),
      positives: numberField(h, "holdout.", "positives"),
      rocAuc: rocAucValue,
      accuracy: numberField(h, "holdout.", "accuracy"),
      logLoss: numberField(h, "holdout.", "logLoss"),
      brier: numberField(h, "holdout.", "brier"),
      threshold: numberField(h, "holdout.", "threshold"),
      confusion: {
        truePositives: numberField(c, "holdout.confusion.", "truePositives"),
        falsePositives: numberField(c, "holdout.confusion.", "falsePositives"),
        trueNegatives: numberField(c, "holdout.confusion.", "trueNegatives"),
        falseNegatives: numberField(c, "holdout.confusion.", "falseNegatives"),
      },
      ...(calibrationValue === undefined ? {} : { calibration: calibrationValue }),
    },
    training: {
      rows: numberField(t, "training.", "rows"),
      positives: numberField(t, "training.", "positives"),
      loss: numberField(t, "training.", "loss"),
      objective: numberField(t, "training.", "objective"),
      iterations: numberField(t, "training.", "iterations"),
      converged,
      l1: numberField(t, "training.", "l1"),
      zeroWeights: numberField(t, "training.", "zeroWeights"),
    },
  };
}
