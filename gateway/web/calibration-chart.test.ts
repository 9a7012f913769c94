import { describe, expect, it } from "vitest";
import type { Calibration } from "./src/gen/liver/v1/model.js";
import { describeCalibration, layoutReliability } from "./src/calibration-chart.js";

const CALIBRATION: Calibration = {
  bins: Array.from({ length: 10 }, (_, b) => ({
    lower: b / 10,
    upper: (b + 1) / 10,
    rows: b === 0 ? 0 : b === 9 ? 100 : 25,
    meanPredicted: b === 0 ? 0 : b / 10 + 0.05,
    observedRate: b === 0 ? 0 : Math.min(1, b / 10 + 0.1),
  })),
  expectedCalibrationError: 0.0412,
};

describe("layoutReliability", () => {
  it("plots non-empty bins at (mean predicted, observed rate) inside the square plot", () => {
    const layout = layoutReliability(CALIBRATION, 260);
    expect(layout.points).toHaveLength(9);
    const { plot } = layout;
    const last = layout.points[8];
    expect(last?.x).toBeCloseTo(plot.left + 0.95 * (plot.right - plot.left), 0);
    expect(last?.y).toBe(plot.top);
    for (const p of layout.points) {
      expect(p.x).toBeGreaterThanOrEqual(plot.left);
      expect(p.x).toBeLessThanOrEqual(plot.right);
      expect(p.y).toBeGreaterThanOrEqual(plot.top);
      expect(p.y).toBeLessThanOrEqual(plot.bottom);
    }
    expect(layout.linePath.startsWith("M")).toBe(true);
    expect(layout.linePath.split("L")).toHaveLength(9);
  });

  it("sizes points by their rows: the fullest bin is largest", () => {
    const layout = layoutReliability(CALIBRATION);
    const radii = layout.points.map((p) => p.r);
    expect(Math.max(...radii)).toBe(layout.points[8]?.r);
    expect(layout.points[0]?.r).toBeLessThan(layout.points[8]?.r ?? 0);
  });

  it("draws nothing for a table with only empty bins", () => {
    const empty = { bins: CALIBRATION.bins.map((b) => ({ ...b, rows: 0 })), expectedCalibrationError: 0 };
    expect(layoutReliability(empty)).toMatchObject({ points: [], linePath: "" });
  });
});

describe("describeCalibration", () => {
  it("says the error as a number and in percentage points, with the holdout size", () => {
    expect(describeCalibration("v3", CALIBRATION)).toBe(
      "v3: expected calibration error 0.041; over 300 holdout patients, predicted and observed rates differ by 4.1 percentage points on average.",
    );
  });
});
