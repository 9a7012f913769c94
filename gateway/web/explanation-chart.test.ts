import { describe, expect, it } from "vitest";
import type { FeatureSpec } from "./src/gen/liver/v1/model.js";
import type { FeatureContribution } from "./src/gen/liver/v1/predict_service.js";
import {
  countedAs,
  describeContribution,
  describeUnmoved,
  describeValue,
  explanationCaption,
  largestContributions,
  unmovedLines,
} from "./src/explanation-chart.js";

const BILIRUBIN: FeatureSpec = {
  name: "total_bilirubin",
  label: "Total bilirubin",
  unit: "mg/dL",
  min: 0,
  max: 100,
  allowedValues: [],
  position: 2,
};
const RATIO: FeatureSpec = { ...BILIRUBIN, name: "albumin_globulin_ratio", label: "A/G ratio", unit: "" };

const contribution = (
  name: string,
  value: number,
  c: number,
  countedValue?: number,
): FeatureContribution => ({
  name,
  value,
  contribution: c,
  countedValue,
});

describe("explanation sentences", () => {
  it("say the label, the value with its unit, the normal limits it lies outside, and the direction in words", () => {
    // Within limits, no limits are quoted (there is nothing to compare with them).
    expect(describeContribution(contribution("total_bilirubin", 0.8, 0.02), BILIRUBIN)).toBe(
      "Total bilirubin 0.8 mg/dL raised the estimate",
    );
    expect(describeContribution(contribution("total_bilirubin", 7.3, 0.84), BILIRUBIN)).toBe(
      "Total bilirubin 7.3 mg/dL (normal 0.1 to 1.2 mg/dL) raised the estimate",
    );
    expect(describeContribution(contribution("total_bilirubin", 0.4, -0.3), BILIRUBIN)).toBe(
      "Total bilirubin 0.4 mg/dL lowered the estimate",
    );
    expect(describeContribution(contribution("albumin_globulin_ratio", 0.9, 0.004), RATIO)).toBe(
      "A/G ratio 0.9 (normal 1 to 2.5) hardly changed the estimate",
    );
  });

  it("say what a value beyond the healthy side of its normal limits counts as", () => {
    const ALBUMIN: FeatureSpec = { ...BILIRUBIN, name: "albumin", label: "Albumin", unit: "g/dL" };
    const ALT: FeatureSpec = { ...BILIRUBIN, name: "alanine_aminotransferase", label: "ALT", unit: "U/L" };
    const PROTEINS: FeatureSpec = {
      ...BILIRUBIN,
      name: "total_proteins",
      label: "Total proteins",
      unit: "g/dL",
    };
    expect(describeContribution(contribution("albumin", 5.8, -0.4, 5.4), ALBUMIN)).toBe(
      "Albumin 5.8 g/dL (counts as 5.4, its upper normal limit) lowered the estimate",
    );
    expect(describeContribution(contribution("alanine_aminotransferase", 2, -0.2, 4), ALT)).toBe(
      "ALT 2 U/L (counts as 4, its lower normal limit) lowered the estimate",
    );
    expect(describeContribution(contribution("total_proteins", 4.5, 0, 6), PROTEINS)).toBe(
      "Total proteins 4.5 g/dL (counts as 6, its lower normal limit) had no effect",
    );
    expect(describeContribution(contribution("albumin", 5.8, 0, 5.4), ALBUMIN)).toBe(
      "Albumin 5.8 g/dL (counts as 5.4, its upper normal limit) had no effect",
    );
    expect(describeUnmoved(contribution("albumin", 5.8, 0, 5.4), ALBUMIN)).toBe(
      "Albumin 5.8 g/dL (counts as 5.4, its upper normal limit)",
    );
    // Values on the disease side, or within limits, count as given.
    expect(describeContribution(contribution("albumin", 2.1, 0.9), ALBUMIN)).toBe(
      "Albumin 2.1 g/dL (normal 3.4 to 5.4 g/dL) raised the estimate",
    );
    expect(describeContribution(contribution("alanine_aminotransferase", 4, -0.2), ALT)).toBe(
      "ALT 4 U/L lowered the estimate",
    );
    expect(countedAs(contribution("age", 2, 0))).toBe("");
    // The page says only what the answer says: a model served without the clipping (trained
    // before it) answers no counted value, and the page adds nothing for the same albumin.
    expect(describeContribution(contribution("albumin", 5.8, -0.4), ALBUMIN)).toBe(
      "Albumin 5.8 g/dL (normal 3.4 to 5.4 g/dL) lowered the estimate",
    );
  });

  it("say that a lab within normal limits is part of the reference, exactly when the answer says 0", () => {
    expect(describeContribution(contribution("total_bilirubin", 0.7, 0), BILIRUBIN)).toBe(
      "Total bilirubin 0.7 mg/dL is within normal limits: part of the reference estimate",
    );
    expect(describeUnmoved(contribution("total_bilirubin", 0.7, 0), BILIRUBIN)).toBe(
      "Total bilirubin 0.7 mg/dL (within normal limits)",
    );
    // A tiny but nonzero share is still reported as such, never as "no effect".
    expect(describeContribution(contribution("total_bilirubin", 1.3, 0.001), BILIRUBIN)).toBe(
      "Total bilirubin 1.3 mg/dL (normal 0.1 to 1.2 mg/dL) hardly changed the estimate",
    );
    expect(describeUnmoved(contribution("age", 40, 0), undefined)).toBe("age 40");
  });

  it("say why a lab outside normal limits moved nothing when the model did not clip it: the model gives it no weight", () => {
    // The served model on the real file weighs total bilirubin and the A/G ratio 0 (direct
    // bilirubin and albumin carry what they say): a jaundiced patient's bilirubin must not be
    // listed under "No effect" as if that were a clinical judgement.
    expect(describeUnmoved(contribution("total_bilirubin", 7.3, 0), BILIRUBIN)).toBe(
      "Total bilirubin 7.3 mg/dL (outside normal limits; this model gives it no weight)",
    );
    expect(describeUnmoved(contribution("albumin_globulin_ratio", 0.5, 0), RATIO)).toBe(
      "A/G ratio 0.5 (outside normal limits; this model gives it no weight)",
    );
    // -0 on the wire is 0 too.
    expect(describeUnmoved(contribution("total_bilirubin", 7.3, -0), BILIRUBIN)).toBe(
      "Total bilirubin 7.3 mg/dL (outside normal limits; this model gives it no weight)",
    );
  });

  it("never say a lab within normal limits had no effect: its part is in the reference estimate, not a bar", () => {
    // On the real file's model, albumin 3.5 against 5.3 (both within limits, all else equal)
    // is 45.9 % against 24.4 %, and a patient with every lab at its disease-side limit gets
    // 74.8 % with no lab bar at all: "No effect" would be false for every one of them.
    const ALBUMIN: FeatureSpec = { ...BILIRUBIN, name: "albumin", label: "Albumin", unit: "g/dL" };
    const specs = new Map([
      ["total_bilirubin", BILIRUBIN],
      ["albumin", ALBUMIN],
      ["albumin_globulin_ratio", RATIO],
    ]);
    const lines = unmovedLines(
      {
        referenceLogOdds: 0.3,
        contributions: [
          contribution("direct_bilirubin", 2, 0.8),
          contribution("albumin", 3.5, 0),
          contribution("total_bilirubin", 7.3, 0),
          contribution("albumin_globulin_ratio", 2.8, 0, 2.5),
          contribution("age", 40, 0),
        ],
      },
      specs,
    );
    expect(lines.inReference).toBe(
      "Part of the reference estimate, not shown as bars: Albumin 3.5 g/dL (within normal limits); " +
        "A/G ratio 2.8 (counts as 2.5, its upper normal limit).",
    );
    expect(lines.noEffect).toBe(
      "No effect: Total bilirubin 7.3 mg/dL (outside normal limits; this model gives it no weight); age 40.",
    );
    expect(lines.noEffect).not.toMatch(/within normal limits/);
    const none = unmovedLines({ referenceLogOdds: 0, contributions: [contribution("age", 40, 0.1)] }, specs);
    expect(none).toEqual({ inReference: undefined, noEffect: undefined });
  });

  it("caption the reference as it is: these labs brought within normal limits, at average age and sex, with its estimate", () => {
    // Age and gender of the reference are the training average, not the patient's own, so
    // "the same patient" would give an estimate that is not that patient's.
    expect(explanationCaption({ referenceLogOdds: 0, contributions: [] }, 3, 10)).toBe(
      "What moved this estimate most (3 of 10 values), compared with a patient of average age and " +
        "sex whose lab values are these brought within normal limits (estimate 50.0 %):",
    );
    expect(explanationCaption({ referenceLogOdds: Math.log(3), contributions: [] }, 1, 10)).toMatch(
      /\(estimate 75\.0 %\):$/,
    );
    expect(explanationCaption({ referenceLogOdds: -800, contributions: [] }, 1, 10)).toMatch(
      /\(estimate 0\.0 %\):$/,
    );
    expect(explanationCaption({ referenceLogOdds: 0, contributions: [] }, 0, 10)).toBe(
      "Nothing moved this estimate away from that of a patient of average age and sex whose lab " +
        "values are these brought within normal limits.",
    );
  });

  it("word gender, trim float noise, and fall back to the field name without a schema", () => {
    expect(describeValue(contribution("gender", 2, 0.1), undefined)).toBe("female");
    expect(describeValue(contribution("gender", 1, 0.1), undefined)).toBe("male");
    expect(describeValue(contribution("total_bilirubin", 0.1 + 0.2, 0), BILIRUBIN)).toBe("0.3 mg/dL");
    expect(describeContribution(contribution("albumin", 3.1, -1), undefined)).toBe(
      "albumin 3.1 (normal 3.4 to 5.4) lowered the estimate",
    );
  });

  it("pick the largest contributions by size, whatever their sign or order", () => {
    const shown = largestContributions(
      {
        referenceLogOdds: 0,
        contributions: [
          contribution("a", 1, 0.1),
          contribution("b", 1, -2),
          contribution("c", 1, 0.5),
          contribution("d", 1, -0.05),
          contribution("e", 1, 0),
        ],
      },
      3,
    );
    expect(shown.map((c) => c.name)).toEqual(["b", "c", "a"]);
    // What moved nothing is never a bar, however few bars there are.
    const few = largestContributions({ referenceLogOdds: 0, contributions: [contribution("e", 1, 0)] });
    expect(few).toEqual([]);
  });
});
