import { describe, expect, it } from "vitest";
import { Prng } from "../data/prng.js";
import { CALIBRATION_BOUNDS } from "./output-calibration.js";
import { sigmoid } from "./scorer.js";
import { fitSiteRecalibration, type RecalibrationInput } from "./site-recalibration.js";

/** `rows` base log-odds spread like a real model's, labels drawn from `truth(z)`, every 4th row held out. */
function feedback(rows: number, truth: (z: number) => number, seed = 1): RecalibrationInput {
  const random = new Prng(seed);
  const logits = new Float64Array(rows);
  const labels = new Uint8Array(rows);
  const heldOut = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    const z = -1 + 5 * random.nextFloat();
    logits[i] = z;
    labels[i] = random.nextFloat() < truth(z) ? 1 : 0;
    heldOut[i] = i % 4 === 0 ? 1 : 0;
  }
  return { logits, labels, heldOut };
}

describe("fitSiteRecalibration", () => {
  it("learns a low-prevalence clinic's shift and checks it on held-out feedback", () => {
    const fit = fitSiteRecalibration(feedback(1_000, (z) => sigmoid(z - 1.8)));
    expect(fit.applied).toBe(true);
    expect(fit.slope).toBeGreaterThan(0.8);
    expect(fit.slope).toBeLessThan(1.25);
    expect(fit.intercept).toBeGreaterThan(-2.3);
    expect(fit.intercept).toBeLessThan(-1.3);
    expect(fit.checkLogLossRecalibrated).toBeLessThan(fit.checkLogLossBase);
    expect(fit.fitRows + fit.checkRows).toBe(1_000);
    expect(fit.reason).toMatch(/^recalibrated on 1000 labelled feedback rows/);
  });

  it("changes nothing when the feedback ranks patients against the model (flipped labels)", () => {
    const fit = fitSiteRecalibration(feedback(2_700, (z) => 1 - sigmoid(z)));
    expect(fit.applied).toBe(false);
    expect(fit).toMatchObject({ slope: 1, intercept: 0 });
    expect(fit.reason).toMatch(/does not rank patients as the model does \(slope -/);
  });

  it("changes nothing for labels unrelated to the patient", () => {
    const fit = fitSiteRecalibration(feedback(2_000, () => 0.3, 5));
    expect(fit.applied).toBe(false);
    expect(fit.reason).toMatch(/does not rank patients as the model does/);
  });

  it("needs several sources: one source cannot recalibrate the model alone, however plausible its labels", () => {
    // A prevalence shift that keeps the model's ranking: exactly what a genuine clinic sends.
    const shifted = feedback(2_000, (z) => sigmoid(z - 3), 6);
    expect(fitSiteRecalibration({ ...shifted, sources: 1 })).toMatchObject({
      applied: false,
      reason:
        "not recalibrated: the feedback comes from 1 source; 3 needed, so that no one source can recalibrate the model alone",
    });
    expect(fitSiteRecalibration({ ...shifted, sources: 3 }).applied).toBe(true);
  });

  it("needs enough feedback of both classes", () => {
    expect(fitSiteRecalibration(feedback(60, (z) => sigmoid(z))).reason).toMatch(
      /60 labelled feedback rows, 100 needed/,
    );
    const allNegative = fitSiteRecalibration(feedback(500, () => 0));
    expect(allNegative.applied).toBe(false);
    expect(allNegative.reason).toMatch(/0 liver-disease and 500 other labels; 10 of each needed/);
  });

  it("refuses a fit outside the bounds rather than serving it", () => {
    const fit = fitSiteRecalibration(feedback(3_000, (z) => sigmoid(6 * z - 9), 3));
    expect(fit.applied).toBe(false);
    expect(fit.reason).toMatch(/outside the bounds/);
  });

  it("changes nothing when the model is already calibrated for the site", () => {
    const fit = fitSiteRecalibration(feedback(1_000, (z) => sigmoid(z), 9));
    expect(fit.applied).toBe(false);
    expect(fit.reason).toMatch(/an improvement of 0\.005 is needed/);
  });

  it("never leaves the bounds, whatever the labels", () => {
    const random = new Prng(4);
    for (let trial = 0; trial < 30; trial++) {
      const shift = -8 + 16 * random.nextFloat();
      const scale = -3 + 8 * random.nextFloat();
      const fit = fitSiteRecalibration(feedback(600, (z) => sigmoid(scale * z + shift), trial));
      expect(fit.slope).toBeGreaterThanOrEqual(CALIBRATION_BOUNDS.minSlope);
      expect(fit.slope).toBeLessThanOrEqual(CALIBRATION_BOUNDS.maxSlope);
      expect(Math.abs(fit.intercept)).toBeLessThanOrEqual(CALIBRATION_BOUNDS.maxAbsIntercept);
    }
  });
});
