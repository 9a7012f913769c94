/** The version a candidate is compared with, or undefined when none serves yet. */
export interface GateBaseline {
  readonly modelVersion: string;
  readonly rocAuc: number;
}

/** The gate's verdict on a candidate, with the reason in words for the registry. */
export interface GateDecision {
  readonly promote: boolean;
  readonly reason: string;
}

/**
 * The quality gate: a candidate is promoted when its holdout ROC AUC is not worse than
 * the serving version's by more than `tolerance` (a negative tolerance demands an
 * improvement). Both AUCs come from the same frozen holdout, so they are comparable.
 */
export function decideGate(
  candidate: { readonly modelVersion: string; readonly rocAuc: number },
  serving: GateBaseline | undefined,
  tolerance: number,
): GateDecision {
  const auc = candidate.rocAuc.toFixed(4);
  if (!Number.isFinite(candidate.rocAuc)) {
    return { promote: false, reason: `holdout ROC AUC is ${candidate.rocAuc}; the candidate is unusable` };
  }
  if (serving === undefined) {
    return { promote: true, reason: `first version: no version served before (holdout ROC AUC ${auc})` };
  }
  const floor = serving.rocAuc - tolerance;
  const comparison = `holdout ROC AUC ${auc} vs serving ${serving.modelVersion}'s ${serving.rocAuc.toFixed(4)}, tolerance ${tolerance}`;
  if (candidate.rocAuc >= floor) return { promote: true, reason: `passed the gate: ${comparison}` };
  return {
    promote: false,
    reason: `rejected by the gate: ${comparison}; it needed at least ${floor.toFixed(4)}`,
  };
}
