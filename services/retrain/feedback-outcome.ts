/**
 * Where a submitted verdict stands, as SubmitFeedback answers it: the stored state and, when
 * the row is held back from training, the reason in words a clinician can read. The review
 * keeps the screen's technical reason (figures, Mahalanobis distances) for operators; the
 * clinician who clicked learns only what happens to the verdict and why in one sentence.
 */
import { FeedbackState } from "../gen/liver/v1/retrain_service.js";
import type { FeedbackState as StoredState } from "./store/feedback-store.js";

const STATES: Readonly<Record<StoredState, FeedbackState>> = {
  trained: FeedbackState.FEEDBACK_STATE_TRAINED,
  quarantined: FeedbackState.FEEDBACK_STATE_QUARANTINED,
  excluded: FeedbackState.FEEDBACK_STATE_EXCLUDED,
  unlabelled: FeedbackState.FEEDBACK_STATE_UNLABELLED,
};

/** The screen's reasons (plausibility-screen.ts) by their opening words, in plain language. */
const SCREEN_REASONS: readonly (readonly [prefix: string, plain: string])[] = [
  ["contradicts a very confident model", "it contradicts an answer the model gave with very high confidence"],
  ["out-of-range leverage", "a value lies far outside the data the model was built on"],
  [
    "implausible combination of values",
    "this combination of values is very unusual in the data the model was built on",
  ],
];

/** The wire state and the clinician's reason for a stored (or earlier) feedback. */
export function feedbackOutcome(
  state: StoredState,
  storedReason: string,
): { state: FeedbackState; stateReason: string } {
  return { state: STATES[state], stateReason: plainReason(state, storedReason) };
}

function plainReason(state: StoredState, storedReason: string): string {
  switch (state) {
    case "quarantined": {
      const known = SCREEN_REASONS.find(([prefix]) => storedReason.startsWith(prefix));
      return `${known?.[1] ?? "the plausibility screen held it back"}; a reviewer decides whether it is used for training`;
    }
    case "excluded":
      return storedReason === ""
        ? "a reviewer took it out of training"
        : `a reviewer took it out of training (${storedReason})`;
    default:
      return "";
  }
}
