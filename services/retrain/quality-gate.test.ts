import { describe, expect, it } from "vitest";
import { decideGate, DEFAULT_GATE_POLICY, type GateEvidence, type GatePolicy } from "./quality-gate.js";

const policy: GatePolicy = { ...DEFAULT_GATE_POLICY };

function evidence(overrides: Partial<GateEvidence> = {}): GateEvidence {
  return {
    holdoutScheme: "lab-profile-v1",
    holdoutFingerprint: "abcdef0123456789".repeat(4),
    referenceRocAuc: 0.76,
    serving: { modelVersion: "v3", rocAuc: 0.76 },
    slices: [
      { name: "gender=male", rows: 2000, changed: 20 },
      { name: "total_bilirubin>3", rows: 600, changed: 6 },
    ],
    ...overrides,
  };
}

const rule = (decision: ReturnType<typeof decideGate>, name: string): boolean | undefined =>
  decision.checks.find((c) => c.rule === name)?.passed;

describe("decideGate", () => {
  it("promotes a candidate that passes every rule and records each rule's figures", () => {
    const decision = decideGate({ modelVersion: "v4", rocAuc: 0.758 }, evidence(), policy);
    expect(decision.promote).toBe(true);
    expect(decision.checks.map((c) => c.rule)).toEqual([
      "floor",
      "reference",
      "serving",
      "slice:gender=male",
      "slice:total_bilirubin>3",
    ]);
    expect(decision.reason).toMatch(
      /passed the gate on holdout lab-profile-v1 abcdef012345: ROC AUC 0\.7580/,
    );
  });

  it("cannot ratchet: each step within tolerance of the serving model still fails against the fixed reference", () => {
    // A slow attack: every candidate is 0.008 worse than the one serving before it.
    let serving = 0.76;
    const promoted: number[] = [];
    for (let step = 0; step < 10; step++) {
      const candidate = serving - 0.008;
      const decision = decideGate(
        { modelVersion: `v${step + 2}`, rocAuc: candidate },
        evidence({ serving: { modelVersion: `v${step + 1}`, rocAuc: serving } }),
        policy,
      );
      if (!decision.promote) {
        expect(rule(decision, "serving")).toBe(true);
        expect(rule(decision, "reference")).toBe(false);
        expect(decision.reason).toMatch(
          /reference: ROC AUC 0\.7440 vs the reference's 0\.7600 on the same rows; at least 0\.7500 needed/,
        );
        break;
      }
      promoted.push(candidate);
      serving = candidate;
    }
    expect(promoted).toEqual([0.752]);
    expect(0.76 - serving).toBeLessThanOrEqual(policy.maxLossVsReference);
  });

  it("rejects below the absolute floor even when the reference is as bad", () => {
    const decision = decideGate(
      { modelVersion: "v2", rocAuc: 0.55 },
      evidence({ referenceRocAuc: 0.55, serving: undefined }),
      policy,
    );
    expect(decision.promote).toBe(false);
    expect(rule(decision, "floor")).toBe(false);
    expect(decision.reason).toMatch(/floor: ROC AUC 0\.5500, floor 0\.6000/);
  });

  it("holds back a candidate that flips a slice's predictions even though its AUC looks fine", () => {
    const decision = decideGate(
      { modelVersion: "v4", rocAuc: 0.765 },
      evidence({
        slices: [
          { name: "gender=male", rows: 2000, changed: 30 },
          { name: "total_bilirubin>3", rows: 600, changed: 90 },
        ],
      }),
      policy,
    );
    expect(decision.promote).toBe(false);
    expect(rule(decision, "slice:gender=male")).toBe(true);
    expect(rule(decision, "slice:total_bilirubin>3")).toBe(false);
    expect(decision.reason).toMatch(
      /slice:total_bilirubin>3: 90 of 600 holdout rows \(15\.0%\) change class/,
    );
  });

  it("reports small slices without judging them", () => {
    const decision = decideGate(
      { modelVersion: "v4", rocAuc: 0.76 },
      evidence({ slices: [{ name: "age<40", rows: 10, changed: 10 }] }),
      policy,
    );
    expect(decision.promote).toBe(true);
    expect(decision.checks.at(-1)?.detail).toMatch(/not judged below 50 rows/);
  });

  it("compares with the serving model re-scored on the same rows, and can demand a gain", () => {
    const serving = { modelVersion: "v3", rocAuc: 0.77 };
    expect(decideGate({ modelVersion: "v4", rocAuc: 0.7595 }, evidence({ serving }), policy).promote).toBe(
      false,
    );
    const strict = { ...policy, servingTolerance: -0.005 };
    expect(decideGate({ modelVersion: "v4", rocAuc: 0.774 }, evidence({ serving }), strict).promote).toBe(
      false,
    );
    expect(decideGate({ modelVersion: "v4", rocAuc: 0.776 }, evidence({ serving }), strict).promote).toBe(
      true,
    );
  });

  it("refuses a candidate whose AUC is not a number, whatever else", () => {
    for (const rocAuc of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const decision = decideGate({ modelVersion: "v4", rocAuc }, evidence(), policy);
      expect(decision.promote).toBe(false);
      expect(decision.checks).toEqual([expect.objectContaining({ rule: "finite", passed: false })]);
    }
  });
});
