import { describe, expect, it } from "vitest";
import { HoldoutScheme, type ModelVersion, ModelVersionStatus } from "./src/gen/liver/v1/model.js";
import { holdoutText, layoutHistoryChart, statusText } from "./src/model-history-chart.js";

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

function version(name: string, status: ModelVersionStatus, auc: number, minutes: number): ModelVersion {
  return {
    modelVersion: name,
    status,
    metrics: {
      rocAuc: auc,
      accuracy: 0.7,
      logLoss: 0.5,
      brierScore: 0.2,
      threshold: 0.5,
      confusionMatrix: undefined,
      holdoutRows: 100,
      holdoutScheme: "lab-profile-v1",
      holdoutSchemeKind: HoldoutScheme.HOLDOUT_SCHEME_LAB_PROFILE_V1,
      holdoutFingerprint: "",
      calibration: undefined,
    },
    rowCounts: undefined,
    parentVersion: "",
    reason: "",
    createdAt: new Date(T0 + minutes * 60_000),
    promotedAt: undefined,
    sha256: "",
    trainedOnSyntheticData: true,
    gateChecks: [],
    calibration: undefined,
    approval: undefined,
    siteCalibrations: [],
  };
}

const { MODEL_VERSION_STATUS_SERVING: SERVING, MODEL_VERSION_STATUS_RETIRED: RETIRED } = ModelVersionStatus;
const REJECTED = ModelVersionStatus.MODEL_VERSION_STATUS_REJECTED;

describe("layoutHistoryChart", () => {
  // Newest first, as ListModelVersions returns them.
  const versions = [
    version("v3", SERVING, 0.74, 20),
    version("v2", REJECTED, 0.62, 10),
    version("v1", RETIRED, 0.71, 0),
  ];
  const layout = layoutHistoryChart(versions, 640, 240);

  it("orders points by time, left to right, inside the plot", () => {
    expect(layout.points.map((p) => p.version)).toEqual(["v1", "v2", "v3"]);
    const xs = layout.points.map((p) => p.x);
    expect(xs).toEqual([...xs].sort((a, b) => a - b));
    for (const p of layout.points) {
      expect(p.x).toBeGreaterThan(layout.plot.left);
      expect(p.x).toBeLessThan(layout.plot.right);
      expect(p.y).toBeGreaterThanOrEqual(layout.plot.top);
      expect(p.y).toBeLessThanOrEqual(layout.plot.bottom);
    }
  });

  it("puts higher AUC higher up and zooms the axis to the data in steps of 0.05", () => {
    const [v1, v2, v3] = layout.points;
    expect(v3?.y).toBeLessThan(v1?.y ?? 0);
    expect(v2?.y).toBeGreaterThan(v1?.y ?? 0);
    expect(layout.yTicks.map((t) => t.label)).toEqual(["0.60", "0.65", "0.70", "0.75", "0.80"]);
    expect(layout.yTicks[0]?.position).toBe(layout.plot.bottom);
  });

  it("joins only the versions that passed the gate", () => {
    const [v1, , v3] = layout.points;
    expect(layout.linePath).toBe(`M${v1?.x},${v1?.y} L${v3?.x},${v3?.y}`);
  });

  it("copes with a single version, and with versions lacking metrics", () => {
    const single = layoutHistoryChart([version("v1", SERVING, 0.8, 0)]);
    expect(single.points).toHaveLength(1);
    expect(single.points[0]?.x).toBeCloseTo((single.plot.left + single.plot.right) / 2, 0);
    expect(single.linePath).toBe("");
    const bare = { ...version("v9", REJECTED, 0.5, 5), metrics: undefined };
    expect(layoutHistoryChart([bare]).points).toEqual([]);
  });

  it("labels the time axis without repeating a label", () => {
    const close = layoutHistoryChart([
      { ...version("v1", RETIRED, 0.8, 0), createdAt: new Date(T0) },
      { ...version("v2", SERVING, 0.8, 0), createdAt: new Date(T0 + 1500) },
    ]);
    const labels = close.xTicks.map((t) => t.label);
    expect(labels.length).toBeGreaterThanOrEqual(2);
    expect(new Set(labels).size).toBe(labels.length);
  });

  it("names statuses in words", () => {
    expect([SERVING, RETIRED, REJECTED].map(statusText)).toEqual(["serving", "retired", "rejected"]);
    expect(statusText(ModelVersionStatus.MODEL_VERSION_STATUS_PENDING_APPROVAL)).toBe("waits for approval");
  });
});

describe("holdoutText", () => {
  it("says which holdout a figure was measured on, and flags the older row-level one", () => {
    expect(holdoutText("lab-profile-v1")).toBe("patients held out by lab profile");
    expect(holdoutText("row-v1")).toBe("row-level (older; overstates)");
    expect(holdoutText("")).toBe("–");
    expect(holdoutText("future-v9")).toBe("future-v9");
  });
});
