import { describe, expect, it } from "vitest";
import { calibration, evaluateBinary, type BinaryMetrics } from "../../shared/model/metrics.js";
import { toModelVersion } from "../retrain-messages.js";
import { useTempStore } from "../testing/temp-store.js";
import { ModelRegistry, versionName, type NewModelVersion } from "./model-registry.js";

function candidate(seq: number, metrics: BinaryMetrics): NewModelVersion {
  return {
    seq,
    modelVersion: versionName(seq),
    metrics,
    originalRows: 800,
    feedbackRows: 0,
    holdoutRows: metrics.rows,
    parentVersion: undefined,
    reason: "test",
    createdAtMs: 1000 * seq,
    sha256: "a".repeat(64),
    synthetic: true,
    runId: `run-${seq}`,
    holdoutScheme: "lab-profile-v1",
    holdoutFingerprint: "f".repeat(64),
    gateChecks: [],
    calibration: undefined,
  };
}

describe("a version's calibration in the registry", () => {
  const database = useTempStore();

  it("is stored with the version and returned as liver.v1.Calibration; rows stored before it existed still read", () => {
    const registry = new ModelRegistry(database());
    const labels = [1, 0, 1, 1, 0, 0, 1, 0];
    const probabilities = [0.9, 0.2, 0.7, 0.45, 0.3, 0.05, 0.85, 0.6];
    const withCalibration = evaluateBinary(labels, probabilities);
    const { calibration: _none, ...older } = withCalibration;
    registry.add(candidate(1, older), true, 10);
    registry.add(candidate(2, withCalibration), true, 20);

    const stored = registry.get("v2");
    expect(stored?.metrics.calibration).toEqual(calibration(labels, probabilities));
    const message = toModelVersion(stored ?? fail());
    expect(message.metrics?.calibration?.expectedCalibrationError).toBe(
      withCalibration.calibration?.expectedCalibrationError,
    );
    expect(message.metrics?.calibration?.bins.map((b) => b.rows)).toEqual(
      withCalibration.calibration?.bins.map((b) => b.rows),
    );

    const old = toModelVersion(registry.get("v1") ?? fail());
    expect(old.metrics?.rocAuc).toBe(withCalibration.rocAuc);
    expect(old.metrics?.calibration).toBeUndefined();
  });
});

function fail(): never {
  throw new Error("version missing");
}
