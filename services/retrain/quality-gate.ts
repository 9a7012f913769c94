/**
 * The quality gate. A gate that compares each candidate only with the model serving before
 * it ratchets: many small steps, each within tolerance, walk the model anywhere. This one
 * compares every candidate, on the same holdout rows (paired), with
 *  - a fixed reference: the model trained on the original data alone, retrained only when the
 *    original data changes, so the total loss from it is bounded whatever the pacing;
 *  - the serving model, re-scored on the same rows (not its figure from another time);
 *  - an absolute floor;
 *  - per-slice checks against the reference: a candidate that flips the predicted class for a
 *    large share of any slice (gender, age bands, clinically meaningful lab bands) is held back
 *    even when its overall ROC AUC looks fine.
 * These slice checks compare the base models, before the site recalibration: recalibration may
 * legitimately move many predictions across the threshold for a low-prevalence clinic. The
 * served answers (after calibration) are judged too, per site and slice, against the last
 * version a person approved (served-change.ts): a candidate that moves them further than
 * APPROVAL_MAX_CLASS_CHANGE is not rejected but waits for an admin (PENDING_APPROVAL).
 */

/** One rule's outcome, recorded with the version. */
export interface GateCheck {
  /** "finite", "floor", "reference", "serving", or "slice:<name>". */
  readonly rule: string;
  readonly passed: boolean;
  /** The figures, in words. */
  readonly detail: string;
}

/** Predictions on one slice of the holdout: how many rows changed class against the reference. */
export interface SliceEvidence {
  readonly name: string;
  readonly rows: number;
  readonly changed: number;
}

/** What the trainer measured for the gate, all on one holdout. */
export interface GateEvidence {
  readonly holdoutScheme: string;
  readonly holdoutFingerprint: string;
  /** The reference model's ROC AUC on the holdout. */
  readonly referenceRocAuc: number;
  /** The serving model re-scored on the same holdout; undefined when none serves. */
  readonly serving: { readonly modelVersion: string; readonly rocAuc: number } | undefined;
  readonly slices: readonly SliceEvidence[];
}

/** The gate's thresholds (settings GATE_*). */
export interface GatePolicy {
  /** No candidate below this ROC AUC, whatever it is compared with. */
  readonly minRocAuc: number;
  /** Most ROC AUC a candidate may lose against the fixed reference. */
  readonly maxLossVsReference: number;
  /** Most ROC AUC a candidate may lose against the serving model (negative: demand a gain). */
  readonly servingTolerance: number;
  /** Largest share of a slice whose predicted class may differ from the reference's. */
  readonly maxSliceChange: number;
  /** Slices with fewer holdout rows are reported but not judged (too noisy). */
  readonly minSliceRows: number;
  /**
   * Largest share of the population or of a judged slice whose served class may change
   * against the last approved version without an admin's approval (APPROVAL_MAX_CLASS_CHANGE).
   */
  readonly approvalMaxClassChange: number;
}

export const DEFAULT_GATE_POLICY: GatePolicy = {
  minRocAuc: 0.6,
  maxLossVsReference: 0.01,
  servingTolerance: 0.01,
  maxSliceChange: 0.05,
  minSliceRows: 50,
  approvalMaxClassChange: 0.02,
};

/** The verdict, its reason in words for the registry, and every rule's outcome. */
export interface GateDecision {
  readonly promote: boolean;
  readonly reason: string;
  readonly checks: readonly GateCheck[];
}

const f4 = (x: number): string => x.toFixed(4);
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** Applies every rule; the candidate is promoted only when all pass. */
export function decideGate(
  candidate: { readonly modelVersion: string; readonly rocAuc: number },
  evidence: GateEvidence,
  policy: GatePolicy,
): GateDecision {
  const auc = candidate.rocAuc;
  const checks: GateCheck[] = [];
  if (!Number.isFinite(auc)) {
    const check = {
      rule: "finite",
      passed: false,
      detail: `holdout ROC AUC is ${auc}; the candidate is unusable`,
    };
    return { promote: false, reason: `rejected by the gate: ${check.detail}`, checks: [check] };
  }
  checks.push({
    rule: "floor",
    passed: auc >= policy.minRocAuc,
    detail: `ROC AUC ${f4(auc)}, floor ${f4(policy.minRocAuc)}`,
  });
  const refFloor = evidence.referenceRocAuc - policy.maxLossVsReference;
  checks.push({
    rule: "reference",
    passed: auc >= refFloor,
    detail: `ROC AUC ${f4(auc)} vs the reference's ${f4(evidence.referenceRocAuc)} on the same rows; at least ${f4(refFloor)} needed`,
  });
  if (evidence.serving !== undefined) {
    const servingFloor = evidence.serving.rocAuc - policy.servingTolerance;
    checks.push({
      rule: "serving",
      passed: auc >= servingFloor,
      detail: `ROC AUC ${f4(auc)} vs serving ${evidence.serving.modelVersion}'s ${f4(evidence.serving.rocAuc)} on the same rows; at least ${f4(servingFloor)} needed`,
    });
  }
  for (const slice of evidence.slices) {
    const share = slice.rows === 0 ? 0 : slice.changed / slice.rows;
    const judged = slice.rows >= policy.minSliceRows;
    checks.push({
      rule: `slice:${slice.name}`,
      passed: !judged || share <= policy.maxSliceChange,
      detail:
        `${slice.changed} of ${slice.rows} holdout rows (${pct(share)}) change class against the reference` +
        (judged
          ? `; at most ${pct(policy.maxSliceChange)} allowed`
          : `; not judged below ${policy.minSliceRows} rows`),
    });
  }
  const failed = checks.filter((c) => !c.passed);
  const where = `on holdout ${evidence.holdoutScheme} ${evidence.holdoutFingerprint.slice(0, 12)}`;
  if (failed.length === 0) {
    const vs =
      evidence.serving === undefined
        ? "first version"
        : `serving ${evidence.serving.modelVersion} ${f4(evidence.serving.rocAuc)}`;
    return {
      promote: true,
      reason: `passed the gate ${where}: ROC AUC ${f4(auc)} (reference ${f4(evidence.referenceRocAuc)}, ${vs}); ${checks.length} rules passed`,
      checks,
    };
  }
  return {
    promote: false,
    reason: `rejected by the gate ${where}: ${failed.map((c) => `${c.rule}: ${c.detail}`).join("; ")}`,
    checks,
  };
}
