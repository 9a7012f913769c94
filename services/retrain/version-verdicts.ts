/**
 * The accuracy clinicians' verdicts give each model version: of the answers a version gave
 * that were marked correct or wrong, the share marked correct, with a 95 % Wilson score
 * interval. Wilson rather than the normal approximation because it stays inside [0, 1] and
 * is honest for the small counts a new version starts with (12 of 14 is not "86 % ± 18").
 * Counted once from the feedback table at start, then kept current as feedback is stored.
 */
import type { VersionVerdicts as VersionVerdictsMessage } from "../gen/liver/v1/retrain_service.js";
import type { StoredVerdict } from "./store/feedback-store.js";
import type { StoreDatabase } from "./store/sqlite-store.js";

/** z for a two-sided 95 % interval. */
const Z95 = 1.959_963_984_540_054;
/** Versions GetRetrainStatus reports at most (the newest that received feedback). */
export const MAX_REPORTED_VERSIONS = 20;

/** Verdict counts of one version. */
export interface VerdictTally {
  correct: number;
  wrong: number;
  unknown: number;
}

/** The 95 % Wilson score interval of `successes` of `trials`; [0, 0] with no trials. */
export function wilsonInterval(successes: number, trials: number, z = Z95): { low: number; high: number } {
  if (trials === 0) return { low: 0, high: 0 };
  const p = successes / trials;
  const z2 = z * z;
  const centre = (p + z2 / (2 * trials)) / (1 + z2 / trials);
  const half = (z / (1 + z2 / trials)) * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  // At 0 or all successes the bound is exactly 0 or 1; rounding would leave 1e-16 off it.
  return {
    low: successes === 0 ? 0 : Math.max(0, centre - half),
    high: successes === trials ? 1 : Math.min(1, centre + half),
  };
}

/** The number in a version name ("v12" -> 12), for newest-first order. */
function versionNumber(version: string): number {
  const n = Number(version.slice(1));
  return Number.isFinite(n) ? n : 0;
}

/** Verdict tallies per model version. */
export class VersionVerdicts {
  private readonly tallies = new Map<string, VerdictTally>();

  /** Counts every stored feedback by the version that answered and its verdict. */
  static load(db: StoreDatabase): VersionVerdicts {
    const verdicts = new VersionVerdicts();
    const rows = db
      .prepare<[], { model_version: string; verdict: number; n: number }>(
        "SELECT model_version, verdict, COUNT(*) AS n FROM feedback GROUP BY model_version, verdict",
      )
      .all();
    for (const row of rows) verdicts.add(row.model_version, row.verdict as StoredVerdict, row.n);
    return verdicts;
  }

  /** Adds `count` verdicts for answers of `modelVersion`. */
  add(modelVersion: string, verdict: StoredVerdict, count = 1): void {
    let tally = this.tallies.get(modelVersion);
    if (tally === undefined) {
      tally = { correct: 0, wrong: 0, unknown: 0 };
      this.tallies.set(modelVersion, tally);
    }
    if (verdict === 1) tally.correct += count;
    else if (verdict === 2) tally.wrong += count;
    else tally.unknown += count;
  }

  /** Every version's tally, newest version first. */
  all(): { modelVersion: string; tally: VerdictTally }[] {
    return [...this.tallies]
      .map(([modelVersion, tally]) => ({ modelVersion, tally: { ...tally } }))
      .sort((a, b) => versionNumber(b.modelVersion) - versionNumber(a.modelVersion));
  }

  /** The newest versions' tallies with accuracy and interval, as GetRetrainStatus returns them. */
  messages(limit = MAX_REPORTED_VERSIONS): VersionVerdictsMessage[] {
    return this.all()
      .slice(0, limit)
      .map(({ modelVersion, tally }) => {
        const labelled = tally.correct + tally.wrong;
        const { low, high } = wilsonInterval(tally.correct, labelled);
        return {
          modelVersion,
          correct: tally.correct,
          wrong: tally.wrong,
          unknown: tally.unknown,
          accuracy: labelled === 0 ? 0 : tally.correct / labelled,
          accuracyLow: low,
          accuracyHigh: high,
        };
      });
  }
}
