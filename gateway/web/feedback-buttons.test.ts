import { describe, expect, it } from "vitest";
import { describeFeedbackFailure, describeFeedbackOutcome, VERDICT_BUTTONS } from "./src/feedback-buttons.js";
import {
  FeedbackState,
  FeedbackVerdict,
  type SubmitFeedbackResponse,
} from "./src/gen/liver/v1/retrain_service.js";
import { GrpcCode, GrpcWebError } from "./src/grpc-status.js";

const response = (overrides: Partial<SubmitFeedbackResponse>): SubmitFeedbackResponse => ({
  feedbackId: "f1",
  retrainScheduled: false,
  duplicate: false,
  modelVersion: "v1",
  state: FeedbackState.FEEDBACK_STATE_TRAINED,
  stateReason: "",
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
    expect(
      describeFeedbackOutcome(
        FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN,
        response({ state: FeedbackState.FEEDBACK_STATE_UNLABELLED }),
      ),
    ).toBe("Marked don't know: stored; not used for training.");
    expect(
      describeFeedbackOutcome(
        FeedbackVerdict.FEEDBACK_VERDICT_CORRECT,
        response({ duplicate: true, retrainScheduled: true }),
      ),
    ).toBe(
      "Already recorded: the server had this prediction's verdict before; nothing was stored twice. It is used for training.",
    );
  });

  it("says a quarantined verdict is kept for review with the server's reason, never added to training", () => {
    const reason =
      "it contradicts an answer the model gave with very high confidence; a reviewer decides whether it is used for training";
    const quarantined = response({ state: FeedbackState.FEEDBACK_STATE_QUARANTINED, stateReason: reason });
    const text = describeFeedbackOutcome(FeedbackVerdict.FEEDBACK_VERDICT_WRONG, quarantined);
    expect(text).toBe(`Marked wrong. Kept for review: ${reason}.`);
    expect(text).not.toMatch(/added to training/);
    const repeat = describeFeedbackOutcome(FeedbackVerdict.FEEDBACK_VERDICT_WRONG, {
      ...quarantined,
      duplicate: true,
    });
    expect(repeat).toMatch(/^Already recorded: .* Kept for review: it contradicts/);
    expect(
      describeFeedbackOutcome(
        FeedbackVerdict.FEEDBACK_VERDICT_CORRECT,
        response({ state: FeedbackState.FEEDBACK_STATE_EXCLUDED, stateReason: "" }),
      ),
    ).toBe("Marked correct. Not used for training: a reviewer took it out.");
  });

  it("claims no more than 'stored' when the server does not say where the verdict stands", () => {
    const unsaid = response({ state: FeedbackState.FEEDBACK_STATE_UNSPECIFIED });
    expect(describeFeedbackOutcome(FeedbackVerdict.FEEDBACK_VERDICT_WRONG, unsaid)).toBe(
      "Marked wrong: stored.",
    );
  });
});

describe("describeFeedbackFailure", () => {
  it("invites a retry only when nothing about the request was wrong", () => {
    const down = describeFeedbackFailure(
      new GrpcWebError(GrpcCode.UNAVAILABLE, "connect ECONNREFUSED", "/x"),
    );
    expect(down.text).toMatch(/^Feedback not confirmed: .*cannot tell whether it was stored\.$/);
    expect(down.text).not.toMatch(/nothing was stored/i);
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
