import type { Explanation } from "../gen/liver/v1/predict_service.js";
import { FEATURES, FEATURE_COUNT, GENDER_CODE, GENDER_ENUM } from "../shared/features/feature-schema.js";
import type { ServingModel } from "./serving-model.js";

/** Schema position of gender, whose given value is reported as its enum number. */
const GENDER_POSITION = FEATURES.findIndex((spec) => spec.kind === "gender");

/** The PatientFeatures field names, in schema order. */
export const FEATURE_NAMES: readonly string[] = FEATURES.map((spec) => spec.name);

/**
 * The value a client gave at schema position `i` of the raw vector at `offset`: the number
 * itself, except gender, which the vector holds in the model's coding and the answer reports
 * as the liver.v1.Gender number the client sent.
 */
export function givenValue(vectors: Float64Array, offset: number, i: number): number {
  const value = vectors[offset + i] as number;
  if (i !== GENDER_POSITION) return value;
  return value === GENDER_CODE.male ? GENDER_ENUM.MALE : GENDER_ENUM.FEMALE;
}

/**
 * Computes explanations into reused arrays (no allocation per patient, so PredictBatch can
 * explain 1,000 patients per call cheaply): each feature's contribution to the log-odds
 * answered (after any site recalibration) relative to the training-mean patient
 * (ServingModel.explain), and the positions ordered by absolute contribution, largest first
 * (ties keep schema order).
 */
export class PredictionExplainer {
  /** Contributions of the last explainInto call, in schema order. */
  readonly contributions = new Float64Array(FEATURE_COUNT);
  /** Schema positions of the last explainInto call, largest |contribution| first. */
  readonly order = new Uint8Array(FEATURE_COUNT);

  /** Explains the vector at `offset`; returns the reference log-odds. */
  explainInto(model: ServingModel, vectors: Float64Array, offset: number): number {
    const reference = model.explain(vectors, offset, this.contributions);
    const { contributions, order } = this;
    // Insertion sort of ten positions: stable, and cheaper than Array#sort with a comparator.
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const size = Math.abs(contributions[i] as number);
      let j = i;
      while (j > 0 && Math.abs(contributions[order[j - 1] as number] as number) < size) {
        order[j] = order[j - 1] as number;
        j--;
      }
      order[j] = i;
    }
    return reference;
  }

  /** The explanation of the vector at `offset` as the contract's message. */
  explain(model: ServingModel, vectors: Float64Array, offset: number): Explanation {
    const referenceLogOdds = this.explainInto(model, vectors, offset);
    return {
      referenceLogOdds,
      contributions: Array.from(this.order, (i) => ({
        name: FEATURE_NAMES[i] as string,
        value: givenValue(vectors, offset, i),
        contribution: this.contributions[i] as number,
      })),
    };
  }
}
