/**
 * Connects the verdict outbox to the browser: localStorage for the queue, the gateway's
 * /auth/whoami for the session's principal (with a deadline, like every call of the page),
 * and the events that suggest the feedback service may be back (another call succeeded, the
 * browser went online, another tab changed the outbox, the page became visible again).
 */
import type { PredictResponse } from "./gen/liver/v1/predict_service.js";
import type { FeedbackVerdict, SubmitFeedbackResponse } from "./gen/liver/v1/retrain_service.js";
import type { LiverApi } from "./liver-api.js";
import { OutboxPanel, describeWaiting } from "./outbox-panel.js";
import { formatProbability } from "./prediction-result.js";
import { parseWhoami, WHOAMI_TIMEOUT_MS, WHOAMI_URL } from "./signed-in-user.js";
import { OUTBOX_STORAGE_KEY, VerdictOutbox, type OutboxStorage } from "./verdict-outbox.js";
import { VerdictSender } from "./verdict-sender.js";

/** How the page names a prediction in outbox messages. */
export function predictionLabel(prediction: PredictResponse): string {
  return `the ${formatProbability(prediction.probability)} answer of model ${prediction.modelVersion} (prediction ${prediction.predictionId.slice(0, 8)})`;
}

/** The session's principal: "" when nobody is signed in (or sign-in is off), undefined when the gateway cannot say. */
export async function fetchPrincipal(fetchFn: typeof fetch = fetch): Promise<string | undefined> {
  try {
    const response = await fetchFn(WHOAMI_URL, {
      cache: "no-store",
      credentials: "same-origin",
      signal: AbortSignal.timeout(WHOAMI_TIMEOUT_MS),
    });
    // A gateway without the endpoint has no sign-in.
    if (response.status === 404) return "";
    if (!response.ok) return undefined;
    const who = parseWhoami(await response.json());
    return who.signedIn ? (who.principal ?? who.subject ?? "") : "";
  } catch {
    return undefined;
  }
}

function browserStorage(): OutboxStorage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}

/** What the page's verdict buttons use. */
export interface PageOutbox {
  /** FeedbackButtons' submit function. */
  submit(prediction: PredictResponse, verdict: FeedbackVerdict): Promise<SubmitFeedbackResponse>;
  /** Try now: another call to the feedback service just succeeded. */
  wake(): void;
}

/**
 * Builds the outbox, its sender and its panel in `element`, and starts sending what earlier
 * pages left. `onWaiting` tells the verdict buttons what their prediction's verdict waits for.
 */
export function startPageOutbox(
  api: LiverApi,
  element: HTMLElement,
  onWaiting: (predictionIds: readonly string[], text: string) => void,
): PageOutbox {
  const outbox = new VerdictOutbox(browserStorage());
  const sender = new VerdictSender(
    outbox,
    (token, verdict, timeoutMs) => api.submitFeedback(token, verdict, undefined, timeoutMs),
    () => fetchPrincipal(),
  );
  const panel = new OutboxPanel(element, (predictionId) => sender.dismiss(predictionId));
  sender.onChange((snapshot) => {
    panel.show(snapshot);
    const text = describeWaiting(snapshot, Date.now());
    if (text !== undefined && snapshot.waitReason !== undefined)
      onWaiting(
        outbox.queue().map((entry) => entry.predictionId),
        `Waiting to be sent: ${snapshot.waitReason}. The verdict is kept in this browser and sent automatically.`,
      );
  });
  window.addEventListener("online", () => sender.wake());
  window.addEventListener("storage", (event) => {
    if (event.key === OUTBOX_STORAGE_KEY) sender.wake();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") sender.wake();
  });
  sender.start();
  return {
    submit: (prediction, verdict) =>
      sender.submit({
        predictionId: prediction.predictionId,
        feedbackToken: prediction.feedbackToken,
        verdict,
        label: predictionLabel(prediction),
      }),
    wake: () => sender.wake(),
  };
}
