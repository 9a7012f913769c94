/**
 * The plausibility check every labelled feedback passes before it may train. SubmitFeedback
 * asks the screen once per new labelled row and stores the row as 'trained' or as
 * 'quarantined' with the screen's reason; quarantined rows never train until an operator
 * releases them (ReleaseFeedback).
 */

/** What the screen sees of one labelled feedback. */
export interface FeedbackScreenInput {
  /** Raw feature vector in schema order, as the prediction was made on it. */
  readonly features: Float64Array;
  /** The label the verdict gives: 1 liver disease, 0 none. */
  readonly label: 0 | 1;
  /** The model's probability of liver disease for this prediction. */
  readonly probability: number;
  /** The version that made the prediction. */
  readonly modelVersion: string;
}

/** The screen's decision: train, or hold back with a reason an operator can read. */
export type FeedbackScreenVerdict =
  { readonly state: "trained" } | { readonly state: "quarantined"; readonly reason: string };

/** Decides whether a labelled feedback trains or waits in quarantine. Must not throw. */
export interface FeedbackScreen {
  screen(input: FeedbackScreenInput): FeedbackScreenVerdict;
}

/** The default screen: every labelled feedback trains (the behaviour before screening existed). */
export const acceptAllScreen: FeedbackScreen = {
  screen: () => ({ state: "trained" }),
};
