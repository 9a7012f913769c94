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
}

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
