import { describe, expect, it } from "vitest";
import { describeFeedbackFailure, describeFeedbackOutcome, VERDICT_BUTTONS } from "./src/feedback-buttons.js";
import { FeedbackVerdict, type SubmitFeedbackResponse } from "./src/gen/liver/v1/retrain_service.js";
import { GrpcCode, GrpcWebError } from "./src/grpc-status.js";

const response = (overrides: Partial<SubmitFeedbackResponse>): SubmitFeedbackResponse => ({
  feedbackId: "f1",
  retrainScheduled: false,
  duplicate: false,
  modelVersion: "v1",
  ...overrides,
});

describe("the verdict buttons", () => {
  it("are the three of the product, in order", () => {
    expect(VERDICT_BUTTONS.map((b) => b.text)).toEqual([
      "Prediction is correct",
      "Prediction is wrong",
      "Don't know",
    ]);
    expect(VERDICT_BUTTONS.map((b) => b.verdict)).toEqual([
      FeedbackVerdict.FEEDBACK_VERDICT_CORRECT,
      FeedbackVerdict.FEEDBACK_VERDICT_WRONG,
      FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN,
    ]);
  });
});

describe("describeFeedbackOutcome", () => {
  it("says what the server did with each verdict", () => {
    expect(
      describeFeedbackOutcome(FeedbackVerdict.FEEDBACK_VERDICT_WRONG, response({ retrainScheduled: true })),
    ).toBe("Marked wrong: added to training; retraining scheduled.");
    expect(describeFeedbackOutcome(FeedbackVerdict.FEEDBACK_VERDICT_CORRECT, response({}))).toBe(
      "Marked correct: added to training; retraining waits for more feedback.",
    );
    expect(describeFeedbackOutcome(FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN, response({}))).toBe(
      "Marked don't know: stored; not used for training.",
    );
    expect(
      describeFeedbackOutcome(
        FeedbackVerdict.FEEDBACK_VERDICT_CORRECT,
        response({ duplicate: true, retrainScheduled: true }),
      ),
    ).toBe("Already recorded: this prediction had feedback before; nothing new was stored.");
  });
});

describe("describeFeedbackFailure", () => {
  it("invites a retry only when nothing about the request was wrong", () => {
    const down = describeFeedbackFailure(
      new GrpcWebError(GrpcCode.UNAVAILABLE, "connect ECONNREFUSED", "/x"),
    );
    expect(down.text).toMatch(/^Feedback not recorded: .* try again when it is back\.$/);
    expect(down.technical).toBe("(UNAVAILABLE: connect ECONNREFUSED)");
    const refused = describeFeedbackFailure(
      new GrpcWebError(GrpcCode.UNAUTHENTICATED, "the feedback token expired", "/x"),
    );
    expect(refused).toEqual({
      text: "Feedback refused: the feedback token expired",
      technical: "(UNAUTHENTICATED)",
    });
  });
});
