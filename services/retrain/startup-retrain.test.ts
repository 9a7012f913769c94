import { describe, expect, it } from "vitest";
import { decideStartupRetrain, type StartupState } from "./startup-retrain.js";

const restart: StartupState = {
  serving: true,
  pendingLabelled: 0,
  minBatch: 5,
  reviewedAtMs: undefined,
  lastCompletedStartMs: 1_000,
};

describe("decideStartupRetrain", () => {
  it("trains a first version when none serves, whatever else the store holds", () => {
    expect(decideStartupRetrain({ ...restart, serving: false })?.trigger).toBe("startup");
    expect(decideStartupRetrain({ ...restart, serving: false, pendingLabelled: 99 })?.trigger).toBe(
      "startup",
    );
  });

  it("retrains a full batch of uncovered feedback, and nothing below the batch", () => {
    expect(decideStartupRetrain({ ...restart, pendingLabelled: 5 })).toMatchObject({
      trigger: "recovery",
      reason: "5 labelled feedback(s) not covered by a finished run",
    });
    expect(decideStartupRetrain({ ...restart, pendingLabelled: 4 })).toBeUndefined();
  });

  it("retrains when a review came at or after the last completed run's start", () => {
    expect(decideStartupRetrain({ ...restart, reviewedAtMs: 1_000 })?.trigger).toBe("recovery");
    expect(decideStartupRetrain({ ...restart, reviewedAtMs: 999 })).toBeUndefined();
    expect(
      decideStartupRetrain({ ...restart, reviewedAtMs: 1, lastCompletedStartMs: undefined })?.trigger,
    ).toBe("recovery");
  });
});
