import type { RunTrigger } from "./store/run-log.js";

/** What the store says at start, for decideStartupRetrain. */
export interface StartupState {
  /** Whether a version serves (none on a first start or after a re-import). */
  readonly serving: boolean;
  /** Labelled feedback no finished run covers. */
  readonly pendingLabelled: number;
  readonly minBatch: number;
  /** When an admin last excluded or released feedback; undefined if never. */
  readonly reviewedAtMs: number | undefined;
  /** Start of the last completed run; undefined if none completed. */
  readonly lastCompletedStartMs: number | undefined;
}

/** A run the start requests, with the reason its record and log carry. */
export interface StartupRetrain {
  readonly trigger: RunTrigger;
  readonly reason: string;
  /** What the log says when the run is requested. */
  readonly log: string;
}

/**
 * The start-up retrain decision: train a first version when none serves; otherwise retrain
 * only when the store holds work no model reflects yet (a full batch of uncovered feedback,
 * or a review after the last completed run). Undefined: nothing to do until new feedback.
 */
export function decideStartupRetrain(state: StartupState): StartupRetrain | undefined {
  if (!state.serving) {
    return {
      trigger: "startup",
      reason: "no version serves yet",
      log: "no version serves yet: training the first one",
    };
  }
  const pending = state.pendingLabelled;
  if (pending >= state.minBatch) {
    return {
      trigger: "recovery",
      reason: `${pending} labelled feedback(s) not covered by a finished run`,
      log: `retraining ${pending} labelled feedback(s) no finished run covers`,
    };
  }
  if (state.reviewedAtMs !== undefined && state.reviewedAtMs >= (state.lastCompletedStartMs ?? 0)) {
    return {
      trigger: "recovery",
      reason: "feedback excluded or released after the last completed run",
      log: "retraining: feedback was excluded or released after the last completed run",
    };
  }
  return undefined;
}
