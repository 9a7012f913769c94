import { beforeEach, describe, expect, it } from "vitest";
import { useTempStore } from "../testing/temp-store.js";
import { RunLog } from "./run-log.js";

describe("RunLog", () => {
  const database = useTempStore();
  let log: RunLog;
  beforeEach(() => {
    log = new RunLog(database());
  });

  const start = (runId: string, feedbackUpTo: number, startedAtMs: number): void =>
    log.start({
      runId,
      trigger: "feedback",
      reason: "",
      startedAtMs,
      feedbackUpTo,
      feedbackRows: feedbackUpTo,
    });

  it("records a run from start to finish", () => {
    start("a", 3, 100);
    expect(log.lastFinished()).toBeUndefined();
    log.finish("a", { outcome: "promoted", modelVersion: "v2", error: "", finishedAtMs: 200 });
    expect(log.lastFinished()).toEqual({
      runId: "a",
      trigger: "feedback",
      reason: "",
      startedAtMs: 100,
      finishedAtMs: 200,
      outcome: "promoted",
      modelVersion: "v2",
      error: "",
      feedbackUpTo: 3,
      feedbackRows: 3,
    });
    expect(() =>
      log.finish("a", { outcome: "failed", modelVersion: undefined, error: "x", finishedAtMs: 300 }),
    ).toThrow(/not an unfinished run/);
  });

  it("counts feedback as covered only by promoted or rejected runs, not failed ones", () => {
    start("a", 3, 1);
    log.finish("a", { outcome: "rejected", modelVersion: "v2", error: "gate", finishedAtMs: 2 });
    start("b", 8, 3);
    log.finish("b", { outcome: "failed", modelVersion: undefined, error: "boom", finishedAtMs: 4 });
    expect(log.coveredFeedbackSeq()).toBe(3);
    expect(log.lastFinished()?.runId).toBe("b");
  });

  it("closes runs a dead process left open as failed, with the reason", () => {
    start("a", 1, 1);
    start("b", 2, 2);
    log.finish("b", { outcome: "promoted", modelVersion: "v1", error: "", finishedAtMs: 3 });
    expect(log.failInterrupted("interrupted", 50)).toBe(1);
    expect(log.list().find((r) => r.runId === "a")).toMatchObject({
      outcome: "failed",
      error: "interrupted",
      finishedAtMs: 50,
    });
    expect(log.failInterrupted("again")).toBe(0);
  });
});
