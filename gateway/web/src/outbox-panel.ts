/**
 * Tells the clinician, in one place above the result, what the verdict outbox holds: how
 * many verdicts wait and why ("2 verdicts waiting to be sent; the feedback service is
 * unreachable"), that they have gone once they have, and which prediction's verdict the
 * server refused for good and why. Hidden when there is nothing to say.
 */
import { h } from "./dom.js";
import { FeedbackVerdict } from "./gen/liver/v1/retrain_service.js";
import type { RefusedVerdict } from "./verdict-outbox.js";
import type { OutboxSnapshot } from "./verdict-sender.js";

const VERDICT_WORDS: Readonly<Record<number, string>> = {
  [FeedbackVerdict.FEEDBACK_VERDICT_CORRECT]: "“correct”",
  [FeedbackVerdict.FEEDBACK_VERDICT_WRONG]: "“wrong”",
  [FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN]: "“don't know”",
};

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/** The sentence about waiting verdicts; undefined when none wait. */
export function describeWaiting(snapshot: OutboxSnapshot, nowMs: number): string | undefined {
  if (snapshot.waiting === 0) return undefined;
  const count = plural(snapshot.waiting, "verdict", "verdicts");
  const where = snapshot.durable
    ? "They are kept in this browser and sent automatically, also after a reload."
    : "This browser keeps no storage for them: keep this page open until they have gone.";
  if (snapshot.waitReason === undefined) return `Sending ${count}… ${where}`;
  const next =
    snapshot.nextAttemptAtMs === undefined
      ? snapshot.sending
        ? " Trying again now."
        : ""
      : ` Next attempt in ${Math.max(1, Math.ceil((snapshot.nextAttemptAtMs - nowMs) / 1000))} s.`;
  return `${count} waiting to be sent; ${snapshot.waitReason}.${next} ${where}`;
}

/** A refusal in words: which prediction, which verdict, and the server's reason. */
export function describeRefusal(refusal: RefusedVerdict): string {
  const verdict = VERDICT_WORDS[refusal.verdict] ?? "your";
  // After a lost answer an earlier attempt may be stored: claim "not stored" only when none was lost.
  return refusal.earlierAttempts === 0
    ? `Your ${verdict} verdict on ${refusal.label} was refused and not stored: ${refusal.details}`
    : `Your ${verdict} verdict on ${refusal.label} was refused: ${refusal.details}. An earlier attempt may have been recorded before.`;
}

/** The outbox's status region and the refusals with their dismiss buttons. */
export class OutboxPanel {
  private readonly status = h("p", { class: "outbox-status", "aria-live": "polite" });
  private readonly refusals = h("ul", { class: "outbox-refusals", role: "alert" });
  private snapshot: OutboxSnapshot | undefined;
  /** The last "have gone" sentence, kept until verdicts wait again. */
  private gone = "";
  private ticker: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly element: HTMLElement,
    private readonly dismiss: (predictionId: string) => void,
  ) {
    element.replaceChildren(this.status, this.refusals);
    element.hidden = true;
  }

  /** Shows a new state of the sender. */
  show(snapshot: OutboxSnapshot): void {
    this.snapshot = snapshot;
    if (snapshot.waiting > 0) this.gone = "";
    else if (snapshot.sentAfterWaiting > 0)
      this.gone = `${plural(snapshot.sentAfterWaiting, "waiting verdict has", "waiting verdicts have")} been sent and recorded.`;
    this.render();
    // Count the next attempt down while verdicts wait.
    if (snapshot.nextAttemptAtMs !== undefined && this.ticker === undefined)
      this.ticker = setInterval(() => this.render(), 1000);
    if (snapshot.nextAttemptAtMs === undefined && this.ticker !== undefined) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  private render(): void {
    const snapshot = this.snapshot;
    if (snapshot === undefined) return;
    const lines: (string | Node)[] = [];
    const waiting = describeWaiting(snapshot, Date.now());
    if (waiting !== undefined) lines.push(waiting);
    else if (this.gone !== "") lines.push(this.gone);
    if (snapshot.heldForOthers > 0) {
      lines.push(
        ` ${plural(snapshot.heldForOthers, "verdict was", "verdicts were")} given in another clinician's session; kept until that clinician signs in here.`,
      );
    }
    if (snapshot.technical !== undefined && waiting !== undefined)
      lines.push(" ", h("span", { class: "technical" }, snapshot.technical));
    this.status.replaceChildren(...lines);
    this.refusals.replaceChildren(
      ...snapshot.refused.map((refusal) =>
        h(
          "li",
          { "data-prediction-id": refusal.predictionId },
          describeRefusal(refusal),
          " ",
          this.dismissButton(refusal.predictionId),
        ),
      ),
    );
    this.element.hidden = lines.length === 0 && snapshot.refused.length === 0;
  }

  private dismissButton(predictionId: string): HTMLButtonElement {
    const button = h("button", { type: "button", class: "dismiss" }, "Dismiss");
    button.addEventListener("click", () => this.dismiss(predictionId));
    return button;
  }
}
