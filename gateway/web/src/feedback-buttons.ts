/**
 * The three verdict buttons under a prediction. Each prediction takes one verdict: the
 * buttons lock once it is clicked and stay locked while it waits in the page's outbox and
 * once the server has it, and the page says in words what the server did with it (training
 * row, stored only, kept for review, or already recorded).
 */
import { h } from "./dom.js";
import type { PredictResponse } from "./gen/liver/v1/predict_service.js";
import {
  FeedbackState,
  FeedbackVerdict,
  type SubmitFeedbackResponse,
} from "./gen/liver/v1/retrain_service.js";
import { toGrpcWebError, type GrpcWebError } from "./grpc-status.js";

/** The buttons, in the order shown. Their text is part of the product: keep it. */
export const VERDICT_BUTTONS: readonly { readonly verdict: FeedbackVerdict; readonly text: string }[] = [
  { verdict: FeedbackVerdict.FEEDBACK_VERDICT_CORRECT, text: "Prediction is correct" },
  { verdict: FeedbackVerdict.FEEDBACK_VERDICT_WRONG, text: "Prediction is wrong" },
  { verdict: FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN, text: "Don't know" },
];

const VERDICT_WORDS: Readonly<Record<number, string>> = {
  [FeedbackVerdict.FEEDBACK_VERDICT_CORRECT]: "Marked correct",
  [FeedbackVerdict.FEEDBACK_VERDICT_WRONG]: "Marked wrong",
  [FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN]: "Marked don't know",
};

/** What the server did with a verdict, in the words the clinician sees. */
export function describeFeedbackOutcome(verdict: FeedbackVerdict, response: SubmitFeedbackResponse): string {
  if (response.duplicate) {
    const standing = describeStanding(verdict, response);
    return `Already recorded: the server had this prediction's verdict before; nothing was stored twice.${standing === "" ? "" : ` ${standing}`}`;
  }
  const prefix = VERDICT_WORDS[verdict] ?? "Recorded";
  switch (response.state) {
    case FeedbackState.FEEDBACK_STATE_QUARANTINED:
    case FeedbackState.FEEDBACK_STATE_EXCLUDED:
      return `${prefix}. ${describeStanding(verdict, response)}`;
    case FeedbackState.FEEDBACK_STATE_TRAINED:
      return response.retrainScheduled
        ? `${prefix}: added to training; retraining scheduled.`
        : `${prefix}: added to training; retraining waits for more feedback.`;
    default:
      // UNLABELLED, or a server too old to say: claim no more than "stored".
      return verdict === FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN ||
        response.state === FeedbackState.FEEDBACK_STATE_UNLABELLED
        ? `${prefix}: stored; not used for training.`
        : `${prefix}: stored.`;
  }
}

/** Where a stored verdict stands, as a sentence; "" when the server did not say. */
function describeStanding(verdict: FeedbackVerdict, response: SubmitFeedbackResponse): string {
  switch (response.state) {
    case FeedbackState.FEEDBACK_STATE_QUARANTINED:
      return `Kept for review: ${response.stateReason || "held back by screening"}.`;
    case FeedbackState.FEEDBACK_STATE_EXCLUDED:
      return `Not used for training: ${response.stateReason || "a reviewer took it out"}.`;
    case FeedbackState.FEEDBACK_STATE_TRAINED:
      return "It is used for training.";
    case FeedbackState.FEEDBACK_STATE_UNLABELLED:
      return "Stored; not used for training.";
    default:
      return verdict === FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN ? "Stored; not used for training." : "";
  }
}

/** What a failed submission means for the clinician, and the technical reason apart. */
export function describeFeedbackFailure(error: GrpcWebError): { text: string; technical: string } {
  const technical = `(${error.codeName}: ${error.details})`;
  return error.isTransient
    ? {
        text: "Feedback not confirmed: the feedback service is unavailable, so the page cannot tell whether it was stored.",
        technical,
      }
    : { text: `Feedback refused: ${error.details}`, technical: `(${error.codeName})` };
}

/**
 * Sends a verdict on a prediction; resolves once the server acknowledged it (the page's
 * outbox retries through outages) and rejects only when it was refused.
 */
export type SubmitFeedback = (
  prediction: PredictResponse,
  verdict: FeedbackVerdict,
) => Promise<SubmitFeedbackResponse>;

/** Where the buttons report outcomes (the outage banner and the retrain panel). */
export interface FeedbackReporter {
  succeeded(response: SubmitFeedbackResponse): void;
  failed(error: GrpcWebError): void;
}

/** The verdict buttons and the message under them. */
export class FeedbackButtons {
  private readonly buttons: HTMLButtonElement[];
  private readonly message = h("p", { class: "feedback-message", tabindex: -1, "aria-live": "polite" });
  private readonly fieldset: HTMLFieldSetElement;
  private prediction: PredictResponse | undefined;
  /** The prediction whose verdict was clicked and is not yet acknowledged or refused. */
  private unsettled: string | undefined;
  /** Bumped for each prediction so an answer about an older one is ignored. */
  private generation = 0;

  constructor(
    container: HTMLElement,
    private readonly submit: SubmitFeedback,
    private readonly reporter: FeedbackReporter,
  ) {
    this.buttons = VERDICT_BUTTONS.map(({ verdict, text }) => {
      const button = h("button", { type: "button", class: "verdict", "data-verdict": verdict }, text);
      button.addEventListener("click", () => void this.choose(verdict, button));
      return button;
    });
    this.fieldset = h(
      "fieldset",
      { class: "feedback", hidden: true },
      h("legend", {}, "Was this prediction right? One answer per prediction."),
      h("div", { class: "verdict-row" }, ...this.buttons),
    );
    container.replaceChildren(this.fieldset, this.message);
  }

  /** Offers the buttons for a new prediction. */
  show(prediction: PredictResponse): void {
    this.generation++;
    this.prediction = prediction;
    this.fieldset.hidden = false;
    this.setLocked(false);
    for (const button of this.buttons) button.setAttribute("aria-pressed", "false");
    this.message.textContent = "";
  }

  /** Hides the buttons (no prediction to judge). */
  clear(): void {
    this.generation++;
    this.prediction = undefined;
    this.fieldset.hidden = true;
    this.message.textContent = "";
  }

  private async choose(verdict: FeedbackVerdict, button: HTMLButtonElement): Promise<void> {
    const prediction = this.prediction;
    if (prediction === undefined || button.disabled) return;
    const generation = this.generation;
    this.setLocked(true);
    button.setAttribute("aria-pressed", "true");
    this.message.textContent = "Sending…";
    this.unsettled = prediction.predictionId;
    try {
      const response = await this.submit(prediction, verdict);
      if (generation !== this.generation) return;
      this.message.textContent = describeFeedbackOutcome(verdict, response);
      this.reporter.succeeded(response);
    } catch (error) {
      if (generation !== this.generation) return;
      // Refused, or not confirmed: the buttons stay locked, since the verdict may be stored.
      const failure = toGrpcWebError(error, "/liver.v1.RetrainService/SubmitFeedback");
      const { text, technical } = describeFeedbackFailure(failure);
      this.message.replaceChildren(text, " ", h("span", { class: "technical" }, technical));
      this.reporter.failed(failure);
    } finally {
      if (this.unsettled === prediction.predictionId) this.unsettled = undefined;
    }
    // The pressed button is now disabled; keep keyboard focus on the outcome.
    this.message.focus();
  }

  /** The shown prediction's verdict waits in the outbox: say so instead of "Sending…". */
  noteWaiting(predictionId: string, text: string): void {
    if (this.unsettled === predictionId && this.prediction?.predictionId === predictionId)
      this.message.textContent = text;
  }

  private setLocked(locked: boolean): void {
    for (const button of this.buttons) button.disabled = locked;
  }
}
