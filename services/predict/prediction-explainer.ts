import type { Explanation } from "../gen/liver/v1/predict_service.js";
import { FEATURE_COUNT } from "../shared/features/feature-schema.js";
import {
  type ExplanationSource,
  FEATURE_NAMES,
  NO_CLIP,
  countedValue,
  givenValue,
} from "./explanation-wire.js";
import type { ServingModel } from "./serving-model.js";

/**
 * Computes explanations into reused arrays (no allocation per patient, so PredictBatch can
 * explain 1,000 patients per call cheaply): each feature's contribution to the log-odds
 * answered (after any site recalibration) relative to the same patient with every lab
 * brought within normal limits (ServingModel.explain), and the positions ordered by
 * absolute contribution, largest first (ties keep schema order).
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

  /**
   * The explanation of the vector at `offset` as the contract's message: the form the tests
   * hold the wire writers to (nothing on the serving path builds it).
   */
  explain(model: ServingModel, vectors: Float64Array, offset: number): Explanation {
    const referenceLogOdds = this.explainInto(model, vectors, offset);
    const source: ExplanationSource = {
      reference: referenceLogOdds,
      contributions: this.contributions,
      contributionsAt: 0,
      order: this.order,
      orderAt: 0,
      vectors,
      vectorAt: offset,
      clip: model.clip ?? NO_CLIP,
    };
    return {
      referenceLogOdds,
      contributions: Array.from(this.order, (i) => ({
        name: FEATURE_NAMES[i] as string,
        value: givenValue(vectors, offset, i),
        contribution: this.contributions[i] as number,
        countedValue: countedValue(source, i),
      })),
    };
  }
}
