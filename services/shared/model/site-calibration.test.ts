import { describe, expect, it } from "vitest";
import { Prng } from "../data/prng.js";
import { fitSiteCalibration, observedExpected, type SiteFeedback } from "./site-calibration.js";
import { sigmoid } from "./scorer.js";

/**
 * A synthetic site with known truth: base log-odds z ~ N(0, 1.5²), true log-odds a + b·z,
 * labels drawn from it; one row in four held out. Sources: `sources` distinct.
 */
function site(rows: number, a: number, b: number, seed: number, sources = 10): SiteFeedback {
  const prng = new Prng(seed);
  const gauss = (): number => {
    const u = Math.max(prng.nextFloat(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * prng.nextFloat());
  };
  const logits = new Float64Array(rows);
  const labels = new Uint8Array(rows);
  const heldOut = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    const z = 1.5 * gauss();
    logits[i] = z;
    labels[i] = prng.nextFloat() < sigmoid(a + b * z) ? 1 : 0;
    heldOut[i] = i % 4 === 0 ? 1 : 0;
  }
  return { site: "clinic", logits, labels, heldOut, sources };
}

/** Mean log loss of `a + b·z` on fresh rows of the same site. */
function freshLogLoss(truthA: number, truthB: number, a: number, b: number, seed: number): number {
  const fresh = site(20_000, truthA, truthB, seed);
  let sum = 0;
  for (let i = 0; i < fresh.logits.length; i++) {
    const p = Math.min(Math.max(sigmoid(a + b * (fresh.logits[i] ?? 0)), 1e-15), 1 - 1e-15);
    sum -= fresh.labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / fresh.logits.length;
}

describe("the closed testing procedure on sites with known truth", () => {
  it("keeps the model for a site where it is calibrated", () => {
    const decisions = [1, 2, 3, 4, 5].map((seed) => fitSiteCalibration(site(1_000, 0, 1, seed)).method);
    // At α = 0.05 a calibrated site is updated about once in twenty; five seeds here keep it every time.
    expect(decisions).toEqual(["keep", "keep", "keep", "keep", "keep"]);
  });

  it("recalibrates only the intercept for a prevalence shift", () => {
    for (const seed of [11, 12, 13]) {
      const result = fitSiteCalibration(site(1_000, -1.2, 1, seed));
      expect(result.method).toBe("intercept");
      expect(result.slope).toBe(1);
      expect(result.intercept).toBeGreaterThan(result.interceptInterval.low);
      expect(result.interceptInterval.low).toBeLessThan(-1.2);
      expect(result.interceptInterval.high).toBeGreaterThan(-1.2);
      expect(result.observedExpectedInterval.high).toBeLessThan(1);
      expect(result.checkLogLossAfter).toBeLessThan(result.checkLogLossBefore);
    }
  });

  it("recalibrates intercept and slope when the model is too extreme there", () => {
    for (const seed of [21, 22, 23]) {
      const result = fitSiteCalibration(site(1_500, 0.8, 0.5, seed));
      expect(result.method).toBe("intercept-and-slope");
      expect(result.slopeInterval.low).toBeLessThan(0.5);
      expect(result.slopeInterval.high).toBeGreaterThan(0.5);
      expect(result.slopeInterval.high).toBeLessThan(1);
    }
  });

  it("refuses one source, too few rows, and labels that reverse the ranking", () => {
    expect(fitSiteCalibration(site(1_000, -1.2, 1, 31, 1)).reason).toMatch(/1 source/);
    expect(fitSiteCalibration(site(20, -1.2, 1, 32)).method).toBe("keep");
    expect(fitSiteCalibration(site(1_000, 0, -1, 33)).method).toBe("keep");
  });
});

describe("partial pooling on small sites", () => {
  it("a site with 60 verdicts is not worse on fresh patients than no calibration", () => {
    const truths: [number, number][] = [
      [0, 1],
      [-1.2, 1],
      [1, 1],
      [0.5, 0.6],
      [-0.3, 1.3],
    ];
    for (const [a, b] of truths) {
      let calibratedSum = 0;
      let uncalibratedSum = 0;
      for (let seed = 100; seed < 120; seed++) {
        const result = fitSiteCalibration(site(60, a, b, seed));
        const uncalibrated = freshLogLoss(a, b, 0, 1, seed + 1_000);
        const calibrated = freshLogLoss(a, b, result.intercept, result.slope, seed + 1_000);
        // One sample of 60 can mislead any estimator a little; shrinkage keeps it small.
        expect(calibrated, `truth ${a}, ${b}, seed ${seed}: ${result.reason}`).toBeLessThan(
          uncalibrated + 0.01,
        );
        calibratedSum += calibrated;
        uncalibratedSum += uncalibrated;
      }
      // Over twenty such sites it is never worse on average.
      expect(calibratedSum, `truth ${a}, ${b}`).toBeLessThanOrEqual(uncalibratedSum);
    }
  });

  it("shrinks a small site's intercept toward the pooled model more than a large one's", () => {
    const small = fitSiteCalibration(site(80, -1.5, 1, 41));
    const large = fitSiteCalibration(site(4_000, -1.5, 1, 41));
    expect(large.method).toBe("intercept");
    expect(large.shrinkage).toBeGreaterThan(small.method === "keep" ? 0 : small.shrinkage);
    expect(large.shrinkage).toBeGreaterThan(0.9);
    if (small.method !== "keep")
      expect(Math.abs(small.intercept)).toBeLessThan(Math.abs(large.intercept) + 0.5);
  });
});

describe("observed / expected", () => {
  it("has an interval around the ratio that narrows with events", () => {
    const few = observedExpected(10, 20);
    const many = observedExpected(1_000, 2_000);
    expect(few.ratio).toBe(0.5);
    expect(many.ratio).toBe(0.5);
    expect(few.interval.high - few.interval.low).toBeGreaterThan(many.interval.high - many.interval.low);
    expect(many.interval.low).toBeLessThan(0.5);
    expect(many.interval.high).toBeGreaterThan(0.5);
  });
});
