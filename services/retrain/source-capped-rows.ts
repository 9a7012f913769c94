/**
 * Bounds what one source can do to the base model: of each source's labelled feedback only
 * its most recent `perSource` rows join base training. Genuine feedback from many clinicians
 * is unaffected (and all of it still feeds the site recalibration); one source, however
 * much it sends, weighs at most `perSource` rows against the original data's thousands.
 */
import { allocateDataset, type Dataset } from "../shared/data/dataset.js";
import { FEATURE_COUNT } from "../shared/features/feature-schema.js";
import type { LabelledRows } from "./store/feedback-store.js";

/** Default FEEDBACK_TRAINING_ROWS_PER_SOURCE. */
export const DEFAULT_TRAINING_ROWS_PER_SOURCE = 100;

/** The rows kept (in arrival order) and how many were left out. */
export interface CappedRows {
  readonly kept: Dataset;
  readonly capped: number;
}

/** Keeps each source's last `perSource` rows (0: no cap); `rows` are in arrival order. */
export function capRowsPerSource(
  rows: LabelledRows,
  perSource: number,
  source: Dataset["source"],
): CappedRows {
  const keep = new Uint8Array(rows.rows);
  if (perSource === 0) keep.fill(1);
  else {
    const seen = new Map<string, number>();
    for (let i = rows.rows - 1; i >= 0; i--) {
      const key = rows.sources[i] ?? "";
      const count = seen.get(key) ?? 0;
      if (count < perSource) {
        keep[i] = 1;
        seen.set(key, count + 1);
      }
    }
  }
  let kept = 0;
  for (const k of keep) kept += k;
  const out = allocateDataset(kept, source);
  let at = 0;
  for (let i = 0; i < rows.rows; i++) {
    if (keep[i] !== 1) continue;
    out.features.set(rows.features.subarray(i * FEATURE_COUNT, (i + 1) * FEATURE_COUNT), at * FEATURE_COUNT);
    out.labels[at] = rows.labels[i] ?? 0;
    at++;
  }
  return { kept: out, capped: rows.rows - kept };
}
