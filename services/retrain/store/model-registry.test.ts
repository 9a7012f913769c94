import { beforeEach, describe, expect, it } from "vitest";
import type { BinaryMetrics } from "../../shared/model/metrics.js";
import { useTempStore } from "../testing/temp-store.js";
import { ModelRegistry, RegistryError, versionName, type NewModelVersion } from "./model-registry.js";

function metrics(rocAuc: number): BinaryMetrics {
  return {
    rows: 100,
    positives: 60,
    rocAuc,
    accuracy: 0.7,
    logLoss: 0.55,
    brier: 0.2,
    threshold: 0.5,
    confusion: { truePositives: 50, falsePositives: 20, trueNegatives: 20, falseNegatives: 10 },
  };
}

function candidate(seq: number, rocAuc = 0.75): NewModelVersion {
  return {
    seq,
    modelVersion: versionName(seq),
    metrics: metrics(rocAuc),
    originalRows: 800,
    feedbackRows: seq,
    holdoutRows: 100,
    parentVersion: seq === 1 ? undefined : versionName(seq - 1),
    reason: `reason ${seq}`,
    createdAtMs: 1000 * seq,
    sha256: "a".repeat(64),
    synthetic: true,
    runId: `run-${seq}`,
    holdoutScheme: "lab-profile-v1",
    holdoutFingerprint: "f".repeat(64),
    gateChecks: [{ rule: "floor", passed: true, detail: `check ${seq}` }],
    calibration: undefined,
  };
}

describe("ModelRegistry", () => {
  const database = useTempStore();
  let registry: ModelRegistry;
  beforeEach(() => {
    registry = new ModelRegistry(database());
  });

  it("numbers versions in training order, rejected ones included", () => {
    expect(registry.nextSeq()).toBe(1);
    registry.add(candidate(1), true, 10);
    registry.add(candidate(2), false, 20);
    expect(registry.nextSeq()).toBe(3);
    expect(registry.list().map((v) => [v.modelVersion, v.status])).toEqual([
      ["v2", "rejected"],
      ["v1", "serving"],
    ]);
    expect(registry.get("v2")?.promotedAtMs).toBeUndefined();
    expect(registry.get("v1")).toMatchObject({ promotedAtMs: 10, metrics: metrics(0.75), synthetic: true });
  });

  it("keeps exactly one serving version: a promotion retires the previous one", () => {
    registry.add(candidate(1), true);
    registry.add(candidate(2), true);
    expect(registry.serving()?.modelVersion).toBe("v2");
    expect(registry.get("v1")?.status).toBe("retired");
    expect(() =>
      database().prepare("UPDATE model_versions SET status = 'serving' WHERE model_version = 'v1'").run(),
    ).toThrow(/UNIQUE/);
  });

  it("rolls back to a retired version and records why", () => {
    registry.add(candidate(1), true, 10);
    registry.add(candidate(2), true, 20);
    const result = registry.rollback("v1", "v2 misbehaves", 30);
    expect(result.current).toMatchObject({
      modelVersion: "v1",
      status: "serving",
      promotedAtMs: 30,
      reason: "v2 misbehaves",
    });
    expect(result.previous?.modelVersion).toBe("v2");
    expect(registry.get("v2")?.status).toBe("retired");
  });

  it("treats a rollback to the serving version as a no-op", () => {
    registry.add(candidate(1), true, 10);
    const result = registry.rollback("v1", "again", 99);
    expect(result.current.modelVersion).toBe("v1");
    expect(result.previous?.modelVersion).toBe("v1");
    expect(registry.get("v1")?.promotedAtMs).toBe(10);
  });

  it("refuses to roll back to a rejected or unknown version", () => {
    registry.add(candidate(1), true);
    registry.add(candidate(2, 0.5), false);
    const rejected = (() => {
      try {
        registry.rollback("v2", "try");
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(rejected).toBeInstanceOf(RegistryError);
    expect((rejected as RegistryError).problem).toBe("rejected");
    expect((rejected as RegistryError).message).toMatch(/v2 was rejected by the quality gate \(reason 2\)/);
    expect(() => registry.rollback("v9", "try")).toThrow(/v9 is not in the registry/);
    expect(registry.serving()?.modelVersion).toBe("v1");
  });
});
