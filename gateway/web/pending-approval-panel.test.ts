import { describe, expect, it } from "vitest";
import {
  ApprovalDecision,
  ModelVersionStatus,
  type ApprovalReview,
  type ModelVersion,
} from "./src/gen/liver/v1/model.js";
import {
  clinicianNotice,
  feedbackLine,
  MAX_DECISION_REASON,
  pendingVersion,
  rankedChanges,
  reasonProblem,
} from "./src/pending-approval-panel.js";

function version(name: string, status: ModelVersionStatus): ModelVersion {
  return {
    modelVersion: name,
    status,
    metrics: undefined,
    rowCounts: undefined,
    parentVersion: "",
    reason: "",
    createdAt: undefined,
    promotedAt: undefined,
    sha256: "",
    trainedOnSyntheticData: true,
    gateChecks: [],
    calibration: undefined,
    approval: undefined,
    siteCalibrations: [],
  };
}

const change = (slice: string, share: number, exceeds: boolean, judged = true) => ({
  site: "default",
  slice,
  rows: 100,
  changed: Math.round(share * 100),
  share,
  judged,
  exceeds,
});

describe("the pending-approval panel's wording and order", () => {
  it("finds the waiting candidate and tells clinicians what they are answered meanwhile", () => {
    const list = [
      version("v3", ModelVersionStatus.MODEL_VERSION_STATUS_PENDING_APPROVAL),
      version("v2", ModelVersionStatus.MODEL_VERSION_STATUS_SERVING),
    ];
    const pending = pendingVersion(list);
    expect(pending?.modelVersion).toBe("v3");
    expect(pendingVersion(list.slice(1))).toBeUndefined();
    expect(clinicianNotice(list[0] as ModelVersion, "v2")).toBe(
      "A model change (v3) waits for review by an administrator. Until it is approved, answers keep coming from v2.",
    );
  });

  it("lists the changes over the bound first, then the largest", () => {
    const review: ApprovalReview = {
      approvedVersion: "v1",
      maxClassChange: 0.02,
      required: true,
      changes: [
        change("population", 0.01, false),
        change("age<40", 0.3, false, false),
        change("total_bilirubin>3", 0.2, true),
      ],
      feedback: undefined,
      decision: "",
      decisionKind: ApprovalDecision.APPROVAL_DECISION_UNSPECIFIED,
      decidedBy: "",
      decisionReason: "",
      decidedAt: undefined,
    };
    expect(rankedChanges(review).map((c) => c.slice)).toEqual(["total_bilirubin>3", "age<40", "population"]);
  });

  it("summarizes the feedback behind the change", () => {
    expect(feedbackLine(undefined)).toBe("No new labelled feedback since the approved version.");
    expect(
      feedbackLine({
        rows: 500,
        sources: [],
        sourceCount: 5,
        principals: [],
        principalCount: 0,
        firstReceivedAt: new Date("2026-01-01T10:00:00Z"),
        lastReceivedAt: new Date("2026-01-01T10:00:18Z"),
      }),
    ).toBe(
      "500 labelled feedback(s) from 5 source(s) and no signed-in principal, received 2026-01-01T10:00:00.000Z to 2026-01-01T10:00:18.000Z.",
    );
  });

  it("asks for a reason as RetrainService does", () => {
    expect(reasonProblem("")).toMatch(/Say why/);
    expect(reasonProblem("   ")).toMatch(/Say why/);
    expect(reasonProblem("x".repeat(MAX_DECISION_REASON + 1))).toMatch(/At most 200/);
    expect(reasonProblem("looked at the slices")).toBeUndefined();
  });
});
