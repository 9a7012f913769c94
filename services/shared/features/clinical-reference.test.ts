import { describe, expect, it } from "vitest";
import {
  REFERENCE_INTERVALS,
  clinicalDirection,
  compareWithLimits,
  encodingBounds,
  referenceInterval,
  referenceValue,
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
    expect(referenceValue("gender")).toBeUndefined();
  });

  it("puts the reference patient at the normal limit on the side of disease, total proteins at its floor", () => {
    expect(clinicalDirection("total_bilirubin")).toBe(1);
    expect(referenceValue("total_bilirubin")).toBe(1.2);
    expect(referenceValue("alanine_aminotransferase")).toBe(36);
    expect(clinicalDirection("albumin")).toBe(-1);
    expect(referenceValue("albumin")).toBe(3.4);
    expect(referenceValue("albumin_globulin_ratio")).toBe(1);
    expect(clinicalDirection("total_proteins")).toBe(1);
    expect(referenceValue("total_proteins")).toBe(6);
    expect(encodingBounds("total_proteins")).toEqual({ lower: 6, upper: undefined });
    expect(clinicalDirection("age")).toBeUndefined();
    expect(encodingBounds("age")).toEqual({ lower: undefined, upper: undefined });
  });

  it("clips every lab except total proteins at its healthy-side limit only, and keeps each reference inside its clip", () => {
    for (const interval of REFERENCE_INTERVALS) {
      const { name, low, high, direction, lower, upper, reference } = interval;
      if (name === "total_proteins") continue;
      // The explicit data agrees with the rule it was written from.
      expect({ lower, upper, reference }, name).toEqual(
        direction === 1
          ? { lower: low, upper: undefined, reference: high }
          : { lower: undefined, upper: high, reference: low },
      );
    }
    for (const { name, lower, upper, reference } of REFERENCE_INTERVALS) {
      expect(reference, name).toBeGreaterThanOrEqual(lower ?? Number.NEGATIVE_INFINITY);
      expect(reference, name).toBeLessThanOrEqual(upper ?? Number.POSITIVE_INFINITY);
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
