/**
 * The answer to a prediction: probability, diagnosis against the model's threshold, and the
 * model version that gave it, announced politely to screen readers. Errors go to a separate
 * alert so they are never mistaken for an answer.
 */
import { describeAnswerBand } from "./answer-band.js";
import { h } from "./dom.js";
import { ExplanationChart } from "./explanation-chart.js";
import { withFieldLabels } from "./field-messages.js";
import type { FeatureSpec } from "./gen/liver/v1/model.js";
import type { PredictResponse } from "./gen/liver/v1/predict_service.js";
import { GrpcCode, type GrpcWebError } from "./grpc-status.js";

/** "72.9 %": one decimal, never "100.0 %" or "0.0 %" for values that are not exactly that. */
export function formatProbability(probability: number): string {
  const percent = probability * 100;
  if (percent > 99.9 && percent < 100) return "> 99.9 %";
  if (percent > 0 && percent < 0.1) return "< 0.1 %";
  return `${percent.toFixed(1)} %`;
}

/** The diagnosis in words, with the threshold it was decided against ("Borderline" near it). */
export function describeDiagnosis(prediction: PredictResponse): string {
  return describeAnswerBand(prediction).text;
}

/** The result section's content. */
export class PredictionResult {
  private readonly answer = h("div", { class: "answer", "aria-live": "polite", "aria-atomic": "true" });
  private readonly error = h("p", { class: "error", role: "alert" });
  private readonly explanation = new ExplanationChart();
  /** The explanation, outside the live region: announced answers stay short. */
  private readonly why = h("div", { class: "why" });

  constructor(container: HTMLElement) {
    this.answer.append(
      h("p", { class: "muted" }, "No prediction yet. Enter the patient's values and press Predict."),
    );
    container.replaceChildren(this.answer, this.why, this.error);
  }

  /** The input schema (labels and units for the explanation's sentences). */
  setSchema(features: readonly FeatureSpec[]): void {
    this.explanation.setSchema(features);
  }

  /** While a prediction is on its way. */
  showPending(): void {
    this.error.textContent = "";
    this.answer.replaceChildren(h("p", { class: "muted" }, "Predicting…"));
    this.why.replaceChildren();
  }

  /** A prediction. */
  show(prediction: PredictResponse): void {
    this.error.textContent = "";
    const { band, text } = describeAnswerBand(prediction);
    this.answer.replaceChildren(
      h(
        "p",
        { class: "probability" },
        h("strong", { class: "probability-value" }, formatProbability(prediction.probability)),
        " probability of liver disease",
      ),
      h("p", { class: `diagnosis ${band}`, "data-band": band }, text),
      h(
        "p",
        { class: "muted" },
        "Answered by model ",
        h("span", { class: "result-version" }, prediction.modelVersion),
        `. Prediction ${prediction.predictionId}.`,
      ),
    );
    const chart = this.explanation.render(prediction.explanation);
    this.why.replaceChildren(...(chart === undefined ? [] : [chart]));
  }

  /** A failure, as an alert; the previous answer (if any) is removed so it is not read as current. */
  showError(text: string): void {
    this.answer.replaceChildren(h("p", { class: "muted" }, "No answer."));
    this.why.replaceChildren();
    this.error.textContent = text;
  }
}

/** What the result area says when Predict fails. */
export function describePredictFailure(error: GrpcWebError): string {
  if (error.code === GrpcCode.INVALID_ARGUMENT)
    return `The server refused the values: ${withFieldLabels(error.details)}`;
  if (error.code === GrpcCode.UNAUTHENTICATED)
    return "No prediction: you are not signed in, or your session has ended. Sign in (see the note at the top of the page) and press Predict again.";
  const technical = `(${error.codeName}: ${error.details})`;
  return error.isTransient
    ? `No prediction: the prediction service is unavailable. Try again in a moment. ${technical}`
    : `No prediction: the server refused the request. ${technical}`;
}
