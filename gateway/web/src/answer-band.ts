/**
 * Where an answer falls against the model's decision threshold, in words. A probability close
 * to the threshold is a coin flip for this model, so it reads "Borderline", never as
 * reassurance ("No liver disease indicated") nor as a finding.
 *
 * The band is the threshold ± 10 percentage points (40 % to 60 % for the usual 50 %
 * threshold). Why 10 points: each version's calibration is measured on the holdout in
 * ten-point bins of the predicted probability (the reliability diagram beside the model
 * history), so ten points is the finest difference the system's own evidence resolves; an
 * answer within one bin of the threshold cannot be told apart from the threshold itself.
 * It also covers the shift a single lab value's ordinary measurement variation causes near
 * the threshold, where the logistic curve is steepest.
 */
import { Diagnosis } from "./gen/liver/v1/patient.js";
import type { PredictResponse } from "./gen/liver/v1/predict_service.js";

/** Half the width of the borderline band, as a probability. */
export const BORDERLINE_HALF_WIDTH = 0.1;

/** Which way an answer reads. */
export type AnswerBand = "borderline" | "liver-disease" | "no-liver-disease" | "unknown";

/** The band of `probability` against `threshold`; borderline wins over the side it is on. */
export function answerBand(
  prediction: Pick<PredictResponse, "probability" | "threshold" | "diagnosis">,
): AnswerBand {
  const { probability, threshold } = prediction;
  if (Number.isFinite(probability) && Number.isFinite(threshold)) {
    // Inclusive edges; the tolerance absorbs float error (0.6 - 0.5 is not exactly 0.1).
    if (Math.abs(probability - threshold) <= BORDERLINE_HALF_WIDTH + 1e-9) return "borderline";
  }
  switch (prediction.diagnosis) {
    case Diagnosis.DIAGNOSIS_LIVER_DISEASE:
      return "liver-disease";
    case Diagnosis.DIAGNOSIS_NO_LIVER_DISEASE:
      return "no-liver-disease";
    default:
      return "unknown";
  }
}

/** "50.0 %" for a threshold or band edge (edges are whole-ish numbers, one decimal is enough). */
function percent(value: number): string {
  return `${(value * 100).toFixed(1)} %`;
}

/** The answer's reading in words, with the threshold (and the band, when borderline). */
export function describeAnswerBand(
  prediction: Pick<PredictResponse, "probability" | "threshold" | "diagnosis">,
): { readonly band: AnswerBand; readonly text: string } {
  const band = answerBand(prediction);
  const threshold = percent(prediction.threshold);
  switch (band) {
    case "borderline": {
      const low = percent(Math.max(0, prediction.threshold - BORDERLINE_HALF_WIDTH));
      const high = percent(Math.min(1, prediction.threshold + BORDERLINE_HALF_WIDTH));
      return {
        band,
        text: `Borderline: too close to the model's threshold of ${threshold} to lean either way (borderline band ${low} to ${high}). Not reassurance and not a finding; decide on clinical grounds and further tests.`,
      };
    }
    case "liver-disease":
      return { band, text: `Liver disease likely (at or above the model's threshold of ${threshold}).` };
    case "no-liver-disease":
      return { band, text: `No liver disease indicated (below the model's threshold of ${threshold}).` };
    default:
      return { band, text: "The server gave no diagnosis." };
  }
}
