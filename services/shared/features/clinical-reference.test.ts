import { describe, expect, it } from "vitest";
import {
  REFERENCE_INTERVALS,
  clinicalDirection,
  compareWithLimits,
  encodingBounds,
  referenceInterval,
  nearestNormal,
} from "./clinical-reference.js";
import { FEATURES } from "./feature-schema.js";

describe("clinical reference", () => {
  it("gives every lab value of the schema an interval inside its valid range, and none to age or gender", () => {
    const labs = FEATURES.filter((spec) => spec.kind === "numeric" && spec.name !== "age");
    expect(REFERENCE_INTERVALS.map((interval) => interval.name).sort()).toEqual(
      labs.map((spec) => spec.name).sort(),
    );
    for (const spec of labs) {
      const interval = referenceInterval(spec.name);
      if (interval === undefined || spec.kind !== "numeric") throw new Error(spec.name);
      expect(interval.low).toBeLessThan(interval.high);
      expect(interval.low).toBeGreaterThanOrEqual(spec.min);
      expect(interval.high).toBeLessThanOrEqual(spec.max);
    }
    expect(referenceInterval("age")).toBeUndefined();
    expect(nearestNormal("gender", 1)).toBeUndefined();
  });

  it("brings a value within normal limits to the nearest limit, and leaves one within them as it is", () => {
    expect(nearestNormal("total_bilirubin", 7.3)).toBe(1.2);
    expect(nearestNormal("total_bilirubin", 0.05)).toBe(0.1);
    expect(nearestNormal("total_bilirubin", 0.7)).toBe(0.7);
    expect(nearestNormal("albumin", 5.8)).toBe(5.4);
    expect(nearestNormal("albumin", 2.1)).toBe(3.4);
    expect(nearestNormal("albumin", 3.4)).toBe(3.4);
    expect(nearestNormal("alanine_aminotransferase", 1)).toBe(4);
    expect(nearestNormal("age", 50)).toBeUndefined();
    expect(clinicalDirection("total_bilirubin")).toBe(1);
    expect(clinicalDirection("albumin")).toBe(-1);
    expect(clinicalDirection("albumin_globulin_ratio")).toBe(-1);
    expect(clinicalDirection("total_proteins")).toBe(1);
    expect(encodingBounds("total_proteins")).toEqual({ lower: 6, upper: undefined });
    expect(clinicalDirection("age")).toBeUndefined();
    expect(encodingBounds("age")).toEqual({ lower: undefined, upper: undefined });
  });

  it("clips every lab except total proteins at its healthy-side limit only, total proteins at its lower limit", () => {
    for (const interval of REFERENCE_INTERVALS) {
      const { name, low, high, direction, lower, upper } = interval;
      // The explicit data agrees with the rule it was written from.
      expect({ lower, upper }, name).toEqual(
        direction === 1 ? { lower: low, upper: undefined } : { lower: undefined, upper: high },
      );
    }
  });

  it("places values against the limits, the limits themselves being normal", () => {
    expect(compareWithLimits("albumin", 3.3)).toBe(-1);
    expect(compareWithLimits("albumin", 3.4)).toBe(0);
    expect(compareWithLimits("albumin", 5.4)).toBe(0);
    expect(compareWithLimits("albumin", 5.5)).toBe(1);
    expect(compareWithLimits("age", 50)).toBeUndefined();
  });
});
