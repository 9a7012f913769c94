import { describe, expect, it } from "vitest";
import { decideGate } from "./quality-gate.js";

describe("decideGate", () => {
  const serving = { modelVersion: "v3", rocAuc: 0.76 };

  it("promotes the first version", () => {
    expect(decideGate({ modelVersion: "v1", rocAuc: 0.6 }, undefined, 0.01)).toMatchObject({ promote: true });
  });

  it("promotes within the tolerance and rejects beyond it, with both AUCs in the reason", () => {
    expect(decideGate({ modelVersion: "v4", rocAuc: 0.7505 }, serving, 0.01)).toMatchObject({
      promote: true,
    });
    const rejected = decideGate({ modelVersion: "v4", rocAuc: 0.7499 }, serving, 0.01);
    expect(rejected.promote).toBe(false);
    expect(rejected.reason).toMatch(
      /0\.7499 vs serving v3's 0\.7600, tolerance 0\.01; it needed at least 0\.7500/,
    );
  });

  it("demands an improvement with a negative tolerance", () => {
    expect(decideGate({ modelVersion: "v4", rocAuc: 0.76 }, serving, -0.005).promote).toBe(false);
    expect(decideGate({ modelVersion: "v4", rocAuc: 0.766 }, serving, -0.005).promote).toBe(true);
  });

  it("never promotes a candidate whose AUC is not a number", () => {
    expect(decideGate({ modelVersion: "v4", rocAuc: Number.NaN }, undefined, 1).promote).toBe(false);
  });
});
