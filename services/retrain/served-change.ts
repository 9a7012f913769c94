/**
 * How far a candidate's served answers move from the last version a person approved. A
 * gate that compares each candidate only with the one before lets many small steps add up;
 * comparing with the last approved version (the first version counts as approved) bounds the
 * total change nobody looked at. Measured per site on the frozen holdout ("population") and on
 * every gate slice, after calibration, in the training worker where the models are.
 */
import type { Dataset } from "../shared/data/dataset.js";
import { FEATURE_COUNT } from "../shared/features/feature-schema.js";
import { sliceRows } from "../shared/model/holdout-slices.js";
import type { GateCheck } from "./quality-gate.js";
import { servedClasses, servedSites, type ServedModel } from "./served-answers.js";

/** The population a change is measured on when it is not a slice. */
export const POPULATION = "population";

/** One site's answers on the population or one slice: rows whose predicted class changed. */
export interface ServedClassChange {
  readonly site: string;
  /** POPULATION or a gate slice's name. */
  readonly slice: string;
  readonly rows: number;
  readonly changed: number;
  /** False for slices below the gate's minimum rows: reported, not judged. */
  readonly judged: boolean;
}

/** The candidate's served answers against the approved version's, on the same holdout rows. */
export interface ServedChangeEvidence {
  /** The approved version compared with; undefined for the first version (nothing to compare). */
  readonly approvedVersion: string | undefined;
  readonly changes: readonly ServedClassChange[];
}

/**
 * Counts, per site, the holdout rows (all, and per slice) whose served class differs
 * between `candidate` and `approved`. Slices under `minSliceRows` are not judged.
 */
export function measureServedChange(
  holdout: Dataset,
  candidate: ServedModel,
  approved: ServedModel | undefined,
  minSliceRows: number,
): ServedChangeEvidence {
  if (approved === undefined) return { approvedVersion: undefined, changes: [] };
  const slices = sliceRows(holdout.features.subarray(0, holdout.rows * FEATURE_COUNT), holdout.rows);
  const changes: ServedClassChange[] = [];
  for (const site of servedSites([candidate, approved])) {
    const now = servedClasses(candidate, site, holdout);
    const before = servedClasses(approved, site, holdout);
    let changed = 0;
    for (let row = 0; row < holdout.rows; row++) if (now[row] !== before[row]) changed++;
    changes.push({ site, slice: POPULATION, rows: holdout.rows, changed, judged: holdout.rows > 0 });
    for (const [name, members] of slices) {
      let inSlice = 0;
      for (const row of members) if (now[row] !== before[row]) inSlice++;
      changes.push({
        site,
        slice: name,
        rows: members.length,
        changed: inSlice,
        judged: members.length >= minSliceRows,
      });
    }
  }
  return { approvedVersion: approved.modelVersion, changes };
}

/** The share of a change's rows that changed class, 0 when it has none. */
export function changeShare(change: ServedClassChange): number {
  return change.rows === 0 ? 0 : change.changed / change.rows;
}

/** Whether a change is judged and larger than `maxClassChange` allows. */
export function exceeds(change: ServedClassChange, maxClassChange: number): boolean {
  return change.judged && changeShare(change) > maxClassChange;
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/**
 * The served-answer rules, one per site and population or slice, recorded with the gate's
 * rules ("served:<site>:<slice>"). A failed one does not reject the candidate: it holds it
 * for a person (PENDING_APPROVAL).
 */
export function servedChangeChecks(evidence: ServedChangeEvidence, maxClassChange: number): GateCheck[] {
  const against = evidence.approvedVersion;
  if (against === undefined) return [];
  return evidence.changes.map((change) => ({
    rule: `served:${change.site}:${change.slice}`,
    passed: !exceeds(change, maxClassChange),
    detail:
      `${change.changed} of ${change.rows} holdout rows (${pct(changeShare(change))}) are answered another class than by approved ${against} at site ${change.site}` +
      (change.judged
        ? `; more than ${pct(maxClassChange)} waits for an admin's approval`
        : `; not judged below the gate's minimum slice rows`),
  }));
}

/** The changes that exceed the bound, in words, for the version's reason. */
export function approvalReason(evidence: ServedChangeEvidence, maxClassChange: number): string {
  const over = evidence.changes.filter((c) => exceeds(c, maxClassChange));
  const listed = over
    .slice(0, 5)
    .map((c) => `${c.site}/${c.slice} ${pct(changeShare(c))} (${c.changed} of ${c.rows})`)
    .join(", ");
  const more = over.length > 5 ? ` and ${over.length - 5} more` : "";
  return `waits for approval: its served answers change the predicted class for more than ${pct(maxClassChange)} against approved ${evidence.approvedVersion ?? "none"}: ${listed}${more}`;
}
