import { describe, expect, it } from "vitest";
import {
  type GetRetrainStatusResponse,
  RetrainOutcome,
  RetrainStage,
  RetrainState,
  RetrainTrigger,
} from "./src/gen/liver/v1/retrain_service.js";
import {
  describeCalibrationDrift,
  describeRetrainStatus,
  describeVerdicts,
  nextPollDelayMs,
} from "./src/retrain-status.js";

function status(overrides: Partial<GetRetrainStatusResponse>): GetRetrainStatusResponse {
  return {
    state: RetrainState.RETRAIN_STATE_IDLE,
    progress: undefined,
    pendingLabelledFeedback: 0,
    modelVersion: "v3",
    counts: { correct: 4, wrong: 2, unknown: 1 },
    lastRun: undefined,
    originalRows: 500,
    syntheticData: true,
    verdictsByVersion: [],
    originalDataNotice: "",
    calibrationDrift: [],
    ...overrides,
  };
}

describe("describeVerdicts", () => {
  it("says how many answers of a version clinicians marked wrong, with accuracy and interval", () => {
    const verdicts = {
      modelVersion: "v7",
      correct: 128,
      wrong: 12,
      unknown: 5,
      accuracy: 128 / 140,
      accuracyLow: 0.856,
      accuracyHigh: 0.951,
    };
    expect(describeVerdicts(verdicts)).toEqual([
      "Clinicians marked 12 of 140 answers of v7 wrong (accuracy 91 %, 95 % interval 86 to 95 %).",
    ]);
    expect(describeVerdicts({ ...verdicts, correct: 0, wrong: 0 })).toEqual([]);
    const view = describeRetrainStatus(
      status({ verdictsByVersion: [verdicts, { ...verdicts, modelVersion: "v6", correct: 1, wrong: 0 }] }),
    );
    expect(view.details).toContain(
      "Clinicians marked 0 of 1 answer of v6 wrong (accuracy 91 %, 95 % interval 86 to 95 %).",
    );
  });
});

describe("describeCalibrationDrift", () => {
  it("adds a line only for a site whose calibration drifts, saying which way", () => {
    const drifting = {
      site: "north",
      verdicts: 200,
      observed: 48,
      expected: 31.2,
      ratio: 48 / 31.2,
      ratioLow: 1.134,
      ratioHigh: 2.04,
      alarm: true,
    };
    const line =
      "Calibration drift at site north: 48 liver-disease outcomes in its last 200 verdicts where its " +
      "answers expected 31.2 (observed / expected 1.54, 95 % interval 1.13 to 2.04); its answers run too low.";
    expect(describeCalibrationDrift(drifting)).toEqual([line]);
    expect(
      describeCalibrationDrift({
        ...drifting,
        observed: 10,
        ratio: 0.32,
        ratioLow: 0.15,
        ratioHigh: 0.59,
      })[0],
    ).toMatch(/run too high\.$/);
    const calm = { ...drifting, site: "south", ratio: 1.02, ratioLow: 0.8, ratioHigh: 1.3, alarm: false };
    expect(describeCalibrationDrift(calm)).toEqual([]);
    const view = describeRetrainStatus(status({ calibrationDrift: [calm, drifting] }));
    expect(view.details).toContain(line);
    expect(view.details.some((d) => d.includes("south"))).toBe(false);
  });
});

describe("nextPollDelayMs", () => {
  it("polls fast while a run is scheduled or running and slowly when idle", () => {
    const intervals = { activeMs: 1000, idleMs: 5000 };
    expect(nextPollDelayMs(RetrainState.RETRAIN_STATE_RUNNING, intervals)).toBe(1000);
    expect(nextPollDelayMs(RetrainState.RETRAIN_STATE_SCHEDULED, intervals)).toBe(1000);
    expect(nextPollDelayMs(RetrainState.RETRAIN_STATE_IDLE, intervals)).toBe(5000);
  });
});

describe("describeRetrainStatus", () => {
  it("shows a running job's stage and progress", () => {
    const view = describeRetrainStatus(
      status({
        state: RetrainState.RETRAIN_STATE_RUNNING,
        progress: {
          stage: "training",
          stageKind: RetrainStage.RETRAIN_STAGE_TRAINING,
          step: 120,
          totalSteps: 300,
          loss: 0.4,
          elapsedMs: 900,
          runId: "r1",
        },
      }),
    );
    expect(view.headline).toBe("Retraining (training); model v3 serving.");
    expect(view.progress).toEqual({ value: 120, max: 300, text: "Step 120 of 300 (40 %)" });
    expect(view.details).toEqual(["Feedback so far: 4 correct, 2 wrong, 1 don't know."]);
  });

  it("shows a run without step counts yet, without a progress bar", () => {
    const view = describeRetrainStatus(status({ state: RetrainState.RETRAIN_STATE_RUNNING }));
    expect(view.headline).toBe("Retraining (starting); model v3 serving.");
    expect(view.progress).toBeUndefined();
  });

  it("shows what is waiting when scheduled or idle", () => {
    expect(
      describeRetrainStatus(
        status({ state: RetrainState.RETRAIN_STATE_SCHEDULED, pendingLabelledFeedback: 1 }),
      ).headline,
    ).toBe("Retraining scheduled (1 labelled feedback entry waiting); model v3 serving.");
    expect(describeRetrainStatus(status({ pendingLabelledFeedback: 2 })).headline).toBe(
      "Idle: model v3 serving; 2 labelled feedback entries waiting.",
    );
    expect(describeRetrainStatus(status({ modelVersion: "" })).headline).toBe("Idle: no model yet.");
  });

  it("describes how the last run ended", () => {
    const finishedAt = new Date();
    const run = {
      runId: "r9",
      trigger: "feedback",
      triggerKind: RetrainTrigger.RETRAIN_TRIGGER_FEEDBACK,
      startedAt: finishedAt,
      finishedAt,
      modelVersion: "v4",
      error: "",
      feedbackRows: 1,
    };
    const last = (outcome: RetrainOutcome, error = ""): string | undefined =>
      describeRetrainStatus(status({ lastRun: { ...run, outcome, error } })).details[1];
    expect(last(RetrainOutcome.RETRAIN_OUTCOME_PROMOTED)).toMatch(
      /^Last run: v4 promoted at \d\d:\d\d:\d\d \(1 feedback row\)\.$/,
    );
    expect(last(RetrainOutcome.RETRAIN_OUTCOME_REJECTED, "AUC 0.61 is below v3's 0.70")).toMatch(
      /^Last run: v4 rejected at .*: AUC 0\.61 is below v3's 0\.70\.$/,
    );
    expect(last(RetrainOutcome.RETRAIN_OUTCOME_FAILED, "worker crashed")).toMatch(
      /^Last run failed at .*: worker crashed\.$/,
    );
    expect(last(RetrainOutcome.RETRAIN_OUTCOME_PENDING_APPROVAL, "waits for approval: ...")).toMatch(
      /^Last run: v4 waits for an administrator's approval at \d\d:\d\d:\d\d \(1 feedback row\)\.$/,
    );
  });
});
