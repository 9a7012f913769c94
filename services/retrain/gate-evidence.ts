/**
 * Measures what the quality gate judges, in the training worker where the models are: the
 * candidate, the fixed reference and the serving model scored on the same holdout rows
 * (paired), and per slice how many rows the candidate classifies differently from the
 * reference. Base models only: the site recalibration is judged on its own.
 */
import type { Dataset } from "../shared/data/dataset.js";
import { FEATURE_COUNT } from "../shared/features/feature-schema.js";
import { sliceRows } from "../shared/model/holdout-slices.js";
import { rocAuc } from "../shared/model/metrics.js";
import type { Scorer } from "../shared/model/scorer.js";
import type { GateEvidence, SliceEvidence } from "./quality-gate.js";

/** The holdout and how it was cut. */
export interface GateHoldout {
  readonly rows: Dataset;
  readonly scheme: string;
  readonly fingerprint: string;
}

/** Every holdout row's probability under `scorer`. */
export function scoreRows(scorer: Scorer, rows: Dataset): Float64Array {
  const out = new Float64Array(rows.rows);
  scorer.scoreBatch(rows.features, rows.rows, out);
  return out;
}

/** Paired figures for the gate; `threshold` is the decision threshold of the class checks. */
export function measureGateEvidence(
  holdout: GateHoldout,
  candidate: Float64Array,
  reference: Float64Array,
  serving: { readonly modelVersion: string; readonly probabilities: Float64Array } | undefined,
  threshold: number,
): GateEvidence {
  const { rows } = holdout;
  const labels = rows.labels.subarray(0, rows.rows);
  const slices: SliceEvidence[] = [];
  for (const [name, members] of sliceRows(rows.features.subarray(0, rows.rows * FEATURE_COUNT), rows.rows)) {
    let changed = 0;
    for (const row of members) {
      if ((candidate[row] ?? 0) >= threshold !== (reference[row] ?? 0) >= threshold) changed++;
    }
    slices.push({ name, rows: members.length, changed });
  }
  return {
    holdoutScheme: holdout.scheme,
    holdoutFingerprint: holdout.fingerprint,
    referenceRocAuc: rocAuc(labels, reference),
    serving:
      serving === undefined
        ? undefined
        : { modelVersion: serving.modelVersion, rocAuc: rocAuc(labels, serving.probabilities) },
    slices,
  };
}
