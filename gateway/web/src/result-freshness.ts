/**
 * One answer, one set of values. A result on screen belongs to the values that were sent; once
 * the form is edited (or a new check fails) the result says so in words, above the answer and
 * above the verdict buttons, and the buttons say they still refer to that earlier prediction.
 * Reverting the edits makes the result current again.
 */
import { h } from "./dom.js";
import { changedFields, readFormValues } from "./form-values.js";

/** Why a shown result is not for the values now in the form. */
export type StaleReason =
  { readonly kind: "edited"; readonly fields: readonly string[] } | { readonly kind: "check-failed" };

/** The notice above a result that belongs to earlier values. */
export function describeStaleResult(reason: StaleReason, label: (name: string) => string): string {
  if (reason.kind === "check-failed")
    return "Not updated: the values now in the form did not pass the checks, so this result still belongs to the earlier values.";
  const names = reason.fields.map(label).join(", ");
  return `Out of date: this result is for the values entered before your edits (changed: ${names}). Press Predict for an answer to the current values.`;
}

/** The notice above the verdict buttons of a result that belongs to earlier values. */
export function describeStaleVerdict(predictionId: string): string {
  return `Your verdict refers to the prediction above (${predictionId}), made for the earlier values, not to the values now in the form.`;
}

/** Watches the form and marks the shown result when it stops matching. */
export class ResultFreshness {
  private readonly resultNotice = h("p", { class: "stale-notice", role: "status", hidden: true });
  private readonly verdictNotice = h("p", { class: "stale-notice stale-verdict", hidden: true });
  /** The values sent with the request in flight, or with the shown answer. */
  private sent: Map<string, string> | undefined;
  private shown: { readonly predictionId: string; readonly values: Map<string, string> } | undefined;
  private checkFailed = false;

  constructor(
    private readonly form: HTMLFormElement,
    private readonly result: HTMLElement,
    feedback: HTMLElement,
    private readonly label: (name: string) => string,
  ) {
    result.before(this.resultNotice);
    feedback.prepend(this.verdictNotice);
    const edited = (): void => {
      this.checkFailed = false;
      this.update();
    };
    form.addEventListener("input", edited);
    form.addEventListener("change", edited);
    // Registered after the form's own submit handler, which has checked the fields (marking
    // bad ones aria-invalid) or started the request by the time this runs.
    form.addEventListener("submit", () => {
      if (form.querySelector('[aria-invalid="true"]') !== null) {
        this.checkFailed = true;
        this.update();
      } else {
        this.sent = readFormValues(form);
      }
    });
  }

  /** No result on screen (a request is on its way, or it failed). */
  cleared(): void {
    this.shown = undefined;
    this.checkFailed = false;
    this.update();
  }

  /** The answer to the last request sent is on screen. */
  answered(predictionId: string): void {
    this.shown = { predictionId, values: this.sent ?? readFormValues(this.form) };
    this.checkFailed = false;
    this.update();
  }

  /** Why the shown result is stale, or undefined when it matches the form (or none is shown). */
  staleReason(): StaleReason | undefined {
    if (this.shown === undefined) return undefined;
    if (this.checkFailed) return { kind: "check-failed" };
    const fields = changedFields(this.shown.values, readFormValues(this.form));
    return fields.length > 0 ? { kind: "edited", fields } : undefined;
  }

  private update(): void {
    const reason = this.staleReason();
    const stale = reason !== undefined && this.shown !== undefined;
    this.resultNotice.hidden = !stale;
    this.verdictNotice.hidden = !stale;
    this.result.classList.toggle("stale-result", stale);
    this.result.toggleAttribute("data-stale", stale);
    if (reason !== undefined && this.shown !== undefined) {
      this.resultNotice.textContent = describeStaleResult(reason, this.label);
      this.verdictNotice.textContent = describeStaleVerdict(this.shown.predictionId);
    } else {
      this.resultNotice.textContent = "";
      this.verdictNotice.textContent = "";
    }
  }
}
