import { describe, expect, it } from "vitest";
import { accuracy, brierScore, confusionMatrix, evaluateBinary, logLoss, rocAuc } from "./metrics.js";

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
