import { describe, expect, it } from "vitest";
import {
  REFERENCE_INTERVALS,
  clinicalDirection,
  compareWithLimits,
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

  it("puts the reference patient at the normal limit on the side of disease, mid-range without a direction", () => {
    expect(clinicalDirection("total_bilirubin")).toBe(1);
    expect(referenceValue("total_bilirubin")).toBe(1.2);
    expect(referenceValue("alanine_aminotransferase")).toBe(36);
    expect(clinicalDirection("albumin")).toBe(-1);
    expect(referenceValue("albumin")).toBe(3.4);
    expect(referenceValue("albumin_globulin_ratio")).toBe(1);
    expect(clinicalDirection("total_proteins")).toBeUndefined();
    expect(referenceValue("total_proteins")).toBeCloseTo(7.15, 12);
  });

  it("places values against the limits, the limits themselves being normal", () => {
    expect(compareWithLimits("albumin", 3.3)).toBe(-1);
    expect(compareWithLimits("albumin", 3.4)).toBe(0);
    expect(compareWithLimits("albumin", 5.4)).toBe(0);
    expect(compareWithLimits("albumin", 5.5)).toBe(1);
    expect(compareWithLimits("age", 50)).toBeUndefined();
  });
});
