import { beforeEach, describe, expect, it } from "vitest";
import type { BinaryMetrics } from "../../shared/model/metrics.js";
import { useTempStore } from "../testing/temp-store.js";
import { ModelRegistry, RegistryError, versionName, type NewModelVersion } from "./model-registry.js";

const METRICS: BinaryMetrics = {
  rows: 100,
  positives: 60,
  rocAuc: 0.75,
  accuracy: 0.7,
  logLoss: 0.55,
  brier: 0.2,
  threshold: 0.5,
  confusion: { truePositives: 50, falsePositives: 20, trueNegatives: 20, falseNegatives: 10 },
};

function candidate(seq: number): NewModelVersion {
  return {
    seq,
    modelVersion: versionName(seq),
    metrics: METRICS,
    originalRows: 800,
    feedbackRows: seq,
    holdoutRows: 100,
    parentVersion: undefined,
    reason: `reason ${seq}`,
    createdAtMs: 1000 * seq,
    sha256: "a".repeat(64),
    synthetic: true,
    runId: `run-${seq}`,
    holdoutScheme: "lab-profile-v1",
    holdoutFingerprint: "f".repeat(64),
    gateChecks: [],
    calibration: undefined,
    approval: {
      approvedVersion: seq === 1 ? undefined : "v1",
      maxClassChange: 0.02,
      required: seq !== 1,
      changes: [{ site: "default", slice: "population", rows: 100, changed: 7, judged: true }],
      feedback: {
        rows: 3,
        sources: [{ source: "203.0.113.1", rows: 3 }],
        sourceCount: 1,
        principals: [],
        principalCount: 0,
        firstReceivedAtMs: 1,
        lastReceivedAtMs: 2,
      },
    },
  };
}

describe("ModelRegistry: candidates waiting for approval", () => {
  const database = useTempStore();
  let registry: ModelRegistry;
  beforeEach(() => {
    registry = new ModelRegistry(database());
  });

  it("counts the first version as approved, and compares later ones with it, not with the serving one", () => {
    expect(registry.approvedBaseline()).toBeUndefined();
    registry.add(candidate(1), true, 10);
    expect(registry.get("v1")?.approvedAtMs).toBe(10);
    registry.add(candidate(2), true, 20); // a small change, promoted without a person
    expect(registry.get("v2")?.approvedAtMs).toBeUndefined();
    expect(registry.approvedBaseline()?.modelVersion).toBe("v1");
    expect(registry.serving()?.modelVersion).toBe("v2");
  });

  it("stores a waiting candidate with its evidence; it never serves until approved", () => {
    registry.add(candidate(1), true, 10);
    const waiting = registry.addPending(candidate(2), 20);
    expect(waiting).toMatchObject({ status: "pending", promotedAtMs: undefined, decision: undefined });
    expect(waiting.approval?.changes).toEqual([
      { site: "default", slice: "population", rows: 100, changed: 7, judged: true },
    ]);
    expect(registry.pending()?.modelVersion).toBe("v2");
    expect(registry.serving()?.modelVersion).toBe("v1");
    expect(() => registry.rollback("v2", "no")).toThrow(
      /waits for approval; ApproveModelVersion makes it serve/,
    );
  });

  it("supersedes a waiting candidate when a newer one waits or is promoted", () => {
    registry.add(candidate(1), true, 10);
    registry.addPending(candidate(2), 20);
    registry.addPending(candidate(3), 30);
    expect(registry.get("v2")).toMatchObject({
      status: "rejected",
      reason: "superseded by v3 before anyone approved it",
      decision: { decision: "superseded", by: "automatic", reason: "superseded by v3", atMs: 30 },
    });
    registry.add(candidate(4), true, 40);
    expect(registry.get("v3")?.decision?.decision).toBe("superseded");
    expect(registry.pending()).toBeUndefined();
    // A candidate the gate rejected leaves a waiting one alone.
    registry.addPending(candidate(5), 50);
    registry.add(candidate(6), false, 60);
    expect(registry.pending()?.modelVersion).toBe("v5");
  });

  it("approves: serves at once, retires the serving one, and becomes the approved version", () => {
    registry.add(candidate(1), true, 10);
    registry.addPending(candidate(2), 20);
    const result = registry.approve("v2", "iss|root", "checked", 30);
    expect(result.previous?.modelVersion).toBe("v1");
    expect(result.current).toMatchObject({
      status: "serving",
      promotedAtMs: 30,
      approvedAtMs: 30,
      reason: "approved by iss|root: checked",
      decision: { decision: "approved", by: "iss|root", reason: "checked", atMs: 30 },
    });
    expect(registry.get("v1")?.status).toBe("retired");
    expect(registry.approvedBaseline()?.modelVersion).toBe("v2");
  });

  it("rejects: the serving version stays; deciding twice or on another version is refused", () => {
    registry.add(candidate(1), true, 10);
    registry.addPending(candidate(2), 20);
    const result = registry.reject("v2", "break-glass", "one clinic", 30);
    expect(result.current).toMatchObject({ status: "rejected", decision: { decision: "rejected" } });
    expect(result.previous?.modelVersion).toBe("v1");
    expect(registry.serving()?.modelVersion).toBe("v1");
    const refused = (action: () => unknown): RegistryError => {
      try {
        action();
      } catch (error) {
        if (error instanceof RegistryError) return error;
      }
      throw new Error("expected a RegistryError");
    };
    expect(refused(() => registry.approve("v2", "x", "y")).problem).toBe("not-pending");
    expect(refused(() => registry.reject("v1", "x", "y")).problem).toBe("not-pending");
    expect(refused(() => registry.approve("v9", "x", "y")).problem).toBe("not-found");
  });

  it("makes a rolled-back-to version the approved one: an admin chose it", () => {
    registry.add(candidate(1), true, 10);
    registry.add(candidate(2), true, 20);
    registry.rollback("v2", "back", 25);
    registry.rollback("v1", "back again", 30);
    expect(registry.approvedBaseline()?.modelVersion).toBe("v1");
    registry.rollback("v2", "forward", 40);
    expect(registry.approvedBaseline()?.modelVersion).toBe("v2");
  });
});
