import { describe, expect, it } from "vitest";
import {
  accuracy,
  brierScore,
  calibration,
  confusionMatrix,
  evaluateBinary,
  logLoss,
  parseModelMetrics,
  rocAuc,
} from "./metrics.js";

/** O(n^2) definition of AUC, to cross-check the sort-and-merge version. */
function pairwiseAuc(labels: number[], scores: number[]): number {
  let wins = 0;
  let pairs = 0;
  labels.forEach((li, i) => {
    if (li !== 1) return;
    labels.forEach((lj, j) => {
      if (lj !== 0) return;
      pairs++;
      const si = scores[i] ?? 0;
      const sj = scores[j] ?? 0;
      wins += si > sj ? 1 : si === sj ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

describe("rocAuc", () => {
  it("is 1 for a perfect ranking and 0 for a reversed one", () => {
    expect(rocAuc([1, 0, 1, 0], [0.9, 0.1, 0.8, 0.3])).toBe(1);
    expect(rocAuc([1, 0, 1, 0], [0.1, 0.9, 0.3, 0.8])).toBe(0);
  });

  it("matches the scikit-learn documentation example (0.75)", () => {
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBe(0.75);
  });

  it("counts ties as one half", () => {
    expect(rocAuc([1, 0], [0.5, 0.5])).toBe(0.5);
    // positives 0.5, 0.7, 0.5 against negatives 0.5, 0.2, 0.7: 1.5 + 2.5 + 1.5 = 5.5 of 9 pairs.
    expect(rocAuc([1, 1, 0, 0, 1, 0], [0.5, 0.7, 0.5, 0.2, 0.5, 0.7])).toBeCloseTo(5.5 / 9, 15);
  });

  it("agrees with the pairwise definition on heavily tied random scores", () => {
    let seed = 7;
    const next = (): number => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
    const labels = Array.from({ length: 400 }, () => (next() < 0.3 ? 1 : 0));
    const scores = labels.map((l) => Math.round((next() + l * 0.3) * 10) / 10);
    expect(rocAuc(labels, scores)).toBeCloseTo(pairwiseAuc(labels, scores), 12);
  });

  it("refuses input it cannot score", () => {
    expect(() => rocAuc([1, 1], [0.2, 0.3])).toThrow(/both classes; got 2 positive and 0 negative/);
    expect(() => rocAuc([1, 0], [0.2])).toThrow(/labels has 2 rows but scores has 1/);
    expect(() => rocAuc([1, 0], [Number.NaN, 0.2])).toThrow(/row 0 is NaN/);
  });
});

describe("threshold metrics", () => {
  const labels = [1, 1, 0, 0, 1];
  const probabilities = [0.9, 0.5, 0.5, 0.2, 0.1];

  it("counts p >= threshold as positive", () => {
    expect(confusionMatrix(labels, probabilities)).toEqual({
      truePositives: 2,
      falsePositives: 1,
      trueNegatives: 1,
      falseNegatives: 1,
    });
    expect(accuracy(labels, probabilities)).toBe(3 / 5);
    expect(confusionMatrix(labels, probabilities, 0.95).truePositives).toBe(0);
    expect(accuracy(labels, probabilities, 0.95)).toBe(2 / 5);
  });

  it("computes log loss and clips certain mistakes", () => {
    expect(logLoss([1, 0], [0.8, 0.3])).toBeCloseTo((-Math.log(0.8) - Math.log(0.7)) / 2, 14);
    expect(logLoss([0, 1], [1, 0])).toBeCloseTo(-Math.log(1e-15), 6);
    expect(Number.isFinite(logLoss([0, 1], [1, 0]))).toBe(true);
  });

  it("computes the Brier score", () => {
    expect(brierScore([1, 0], [0.8, 0.3])).toBeCloseTo((0.04 + 0.09) / 2, 15);
  });

  it("bundles everything in evaluateBinary", () => {
    const metrics = evaluateBinary(labels, probabilities);
    expect(metrics.rows).toBe(5);
    expect(metrics.positives).toBe(3);
    expect(metrics.accuracy).toBe(0.6);
    expect(metrics.threshold).toBe(0.5);
    // positives 0.9, 0.5, 0.1 vs negatives 0.5, 0.2: 2 + 1.5 + 0 = 3.5 of 6 pairs.
    expect(metrics.rocAuc).toBeCloseTo(3.5 / 6, 15);
    expect(metrics.logLoss).toBeCloseTo(logLoss(labels, probabilities), 15);
    expect(metrics.brier).toBeCloseTo((0.01 + 0.25 + 0.25 + 0.04 + 0.81) / 5, 15);
  });
});

describe("calibration", () => {
  it("bins probabilities on a fixed grid and weighs each bin's gap by its rows", () => {
    // Bin [0.1, 0.2): two rows at 0.1 and 0.15, one positive: predicted 0.125, observed 0.5.
    // Bin [0.9, 1]: 0.9 and exactly 1 (the last bin includes 1), both positive: 0.95 vs 1.
    const result = calibration([1, 0, 1, 1], [0.1, 0.15, 0.9, 1]);
    expect(result.bins).toHaveLength(10);
    expect(result.bins[1]).toEqual({
      lower: 0.1,
      upper: 0.2,
      rows: 2,
      meanPredicted: 0.125,
      observedRate: 0.5,
    });
    expect(result.bins[9]).toMatchObject({ rows: 2, observedRate: 1 });
    expect(result.bins[9]?.meanPredicted).toBeCloseTo(0.95, 15);
    expect(result.bins[0]).toEqual({ lower: 0, upper: 0.1, rows: 0, meanPredicted: 0, observedRate: 0 });
    expect(result.bins.reduce((sum, bin) => sum + bin.rows, 0)).toBe(4);
    expect(result.expectedCalibrationError).toBeCloseTo(0.5 * 0.375 + 0.5 * 0.05, 15);
  });

  it("is 0 for probabilities that equal the observed rates, and large for confident misses", () => {
    const labels = [1, 0, 0, 0, 1, 1, 1, 0];
    const fair = [0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75];
    expect(calibration(labels, fair).expectedCalibrationError).toBe(0);
    expect(calibration([0, 0, 1, 1], [0.99, 0.99, 0.01, 0.01]).expectedCalibrationError).toBeCloseTo(
      0.99,
      12,
    );
  });

  it("refuses probabilities outside [0, 1] and bad bin counts, naming them", () => {
    expect(() => calibration([1, 0], [0.5, 1.5])).toThrow(
      "probability of row 1 is 1.5; valid range is 0 to 1",
    );
    expect(() => calibration([1], [Number.NaN])).toThrow("probability of row 0 is NaN");
    expect(() => calibration([1], [0.5], 0)).toThrow("calibration needs 1 or more bins; got 0");
  });

  it("is part of evaluateBinary and survives metrics.json; older metrics.json without it still parse", () => {
    const labels = [1, 0, 1, 0, 1];
    const probabilities = [0.8, 0.3, 0.6, 0.1, 0.55];
    const holdout = evaluateBinary(labels, probabilities);
    expect(holdout.calibration).toEqual(calibration(labels, probabilities));
    const training = {
      rows: 5,
      positives: 3,
      loss: 0.4,
      objective: 0.5,
      iterations: 10,
      converged: true,
      l1: 0.01,
      zeroWeights: 0,
    };
    const parsed = parseModelMetrics(JSON.parse(JSON.stringify({ holdout, training })));
    expect(parsed.holdout.calibration).toEqual(holdout.calibration);
    const { calibration: _dropped, ...older } = holdout;
    expect(parseModelMetrics({ holdout: older, training }).holdout.calibration).toBeUndefined();
    const broken = { ...holdout, calibration: { bins: [{ lower: 0 }], expectedCalibrationError: 0.1 } };
    expect(() => parseModelMetrics({ holdout: broken, training })).toThrow(
      "metrics.json: holdout.calibration.bins[0].upper is missing",
    );
  });
});
