/**
 * Calibration drift per site: over each site's most recent labelled verdicts on the serving
 * version, the observed liver-disease events (O) against the events the served probabilities
 * expected (E, the sum of the probabilities the site was answered with, as the feedback token
 * recorded them). O / E near 1 means the site's answers are still calibrated; an interval
 * that excludes 1 raises the alarm. Kept in memory (loaded from the feedback table when the
 * serving version changes, then fed as feedback is stored), so scrapes and GetRetrainStatus
 * never query SQLite.
 */
import type { SiteCalibrationDrift as SiteCalibrationDriftMessage } from "../gen/liver/v1/retrain_service.js";
import { DEFAULT_SITE, siteNameProblem } from "../shared/sites/site-name.js";
import { DEFAULT_MAX_SITES } from "./stored-candidate-training.js";
import type { StoreDatabase } from "./store/sqlite-store.js";

/**
 * Verdicts per site the ratio is judged on. Recent rather than all, so a site whose patients
 * or laboratory changed shows it within weeks instead of being diluted by months of history;
 * 200 because that detects a 20 % miscalibration in most windows and a 30 % one in nearly
 * all, while a calibrated site alarms in about 5 % (figures: `npm run bench -- --only drift`).
 */
export const DRIFT_WINDOW = 200;
/** Labelled verdicts a site needs in its window before it is judged (fewer: no alarm, "insufficient"). */
export const DRIFT_MIN_VERDICTS = 50;

/** z for a two-sided 95 % interval. */
const Z95 = 1.959_963_984_540_054;

/**
 * The 95 % interval of O / E: (O ± z·√V) / E, where V = Σ p(1 − p) is the variance of O
 * (a sum of Bernoulli outcomes, a Poisson-binomial count) if the served probabilities p were
 * right. 1 lies outside it exactly when the calibration-in-the-large z test rejects. Not the
 * Poisson interval on O (Byar's or exact): that takes var(O) = E, which is far too wide when
 * the probabilities are not small (calibrated windows then never alarm, and a 20 % shift is
 * caught in a third to a half of windows instead of nearly 90 %); `npm run bench -- --only
 * drift` measures both.
 */
export function observedExpectedInterval(
  observed: number,
  expected: number,
  variance: number,
  z = Z95,
): { low: number; high: number } {
  if (!(expected > 0)) return { low: 0, high: 0 };
  const half = z * Math.sqrt(Math.max(0, variance));
  return { low: Math.max(0, (observed - half) / expected), high: (observed + half) / expected };
}

/** One site's drift figures, as GetRetrainStatus and the gauges report them. */
export interface SiteDrift {
  readonly site: string;
  /** Labelled verdicts in the window. */
  readonly verdicts: number;
  readonly observed: number;
  readonly expected: number;
  /** O / E; 0 while E is 0. */
  readonly ratio: number;
  readonly low: number;
  readonly high: number;
  /** True when the site has DRIFT_MIN_VERDICTS and 1 lies outside the interval. */
  readonly alarm: boolean;
}

/** The drift figures of one window of (label, served probability) pairs. */
export function judgeDrift(
  site: string,
  labels: readonly (0 | 1)[],
  probabilities: readonly number[],
  minVerdicts = DRIFT_MIN_VERDICTS,
): SiteDrift {
  let observed = 0;
  let expected = 0;
  let variance = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = probabilities[i] ?? 0;
    observed += labels[i] ?? 0;
    expected += p;
    variance += p * (1 - p);
  }
  const { low, high } = observedExpectedInterval(observed, expected, variance);
  const judged = labels.length >= minVerdicts && expected > 0;
  return {
    site,
    verdicts: labels.length,
    observed,
    expected,
    ratio: expected > 0 ? observed / expected : 0,
    low,
    high,
    alarm: judged && (low > 1 || high < 1),
  };
}

/** A site's window, oldest first. */
interface Window {
  labels: (0 | 1)[];
  probabilities: number[];
}

/** Drift options; omitted: DRIFT_WINDOW, DRIFT_MIN_VERDICTS and DEFAULT_MAX_SITES. */
export interface DriftOptions {
  readonly window?: number;
  readonly minVerdicts?: number;
  /** MAX_SITES: non-default sites tracked at most (the default site always is). */
  readonly maxSites?: number;
}

/** Each site's recent verdicts on the serving version. */
export class SiteCalibrationDrift {
  private version: string | undefined;
  private windows = new Map<string, Window>();
  private readonly window: number;
  private readonly minVerdicts: number;
  private readonly maxSites: number;

  constructor(
    private readonly db: StoreDatabase,
    options: DriftOptions = {},
  ) {
    this.window = options.window ?? DRIFT_WINDOW;
    this.minVerdicts = options.minVerdicts ?? DRIFT_MIN_VERDICTS;
    this.maxSites = options.maxSites ?? DEFAULT_MAX_SITES;
  }

  /**
   * A labelled verdict just stored. Ignored unless it is for the version loaded (a verdict on
   * another version is read from the table when that version becomes the serving one).
   */
  record(modelVersion: string, site: string, label: 0 | 1, probability: number): void {
    if (modelVersion !== this.version || !usable(site, probability)) return;
    let window = this.windows.get(site);
    if (window === undefined) {
      if (site !== DEFAULT_SITE && this.otherSites() >= this.maxSites) return;
      window = { labels: [], probabilities: [] };
      this.windows.set(site, window);
    }
    window.labels.push(label);
    window.probabilities.push(probability);
    if (window.labels.length > this.window) {
      window.labels.shift();
      window.probabilities.shift();
    }
  }

  /** Rereads the windows from the table at the next report (review excluded or released rows). */
  invalidate(): void {
    this.version = undefined;
  }

  /** Every tracked site's drift on `servingVersion`, the default site first, then by name. */
  report(servingVersion: string): SiteDrift[] {
    if (servingVersion === "") return [];
    if (servingVersion !== this.version) this.load(servingVersion);
    return [...this.windows]
      .sort(([a], [b]) => (a === DEFAULT_SITE ? -1 : b === DEFAULT_SITE ? 1 : a < b ? -1 : 1))
      .map(([site, w]) => judgeDrift(site, w.labels, w.probabilities, this.minVerdicts));
  }

  /** The report as GetRetrainStatus returns it. */
  messages(servingVersion: string): SiteCalibrationDriftMessage[] {
    return this.report(servingVersion).map((d) => ({
      site: d.site,
      verdicts: d.verdicts,
      observed: d.observed,
      expected: d.expected,
      ratio: d.ratio,
      ratioLow: d.low,
      ratioHigh: d.high,
      alarm: d.alarm,
    }));
  }

  private otherSites(): number {
    return this.windows.size - (this.windows.has(DEFAULT_SITE) ? 1 : 0);
  }

  /**
   * Reads each site's newest verdicts on `version`: labelled, not excluded by review
   * (quarantined ones count: a label contradicting a confident answer is exactly what
   * miscalibration looks like). The sites with the most verdicts are kept when more than
   * maxSites have any.
   */
  private load(version: string): void {
    const rows = this.db
      .prepare<[string, number], { site: string; label: number; probability: number }>(
        `SELECT site, label, probability FROM (
           SELECT site, label, probability, seq,
                  ROW_NUMBER() OVER (PARTITION BY site ORDER BY seq DESC) AS newest
             FROM feedback
            WHERE model_version = ? AND label IS NOT NULL AND state != 'excluded'
         ) WHERE newest <= ? ORDER BY seq`,
      )
      .all(version, this.window);
    const windows = new Map<string, Window>();
    for (const row of rows) {
      if (!usable(row.site, row.probability)) continue;
      let window = windows.get(row.site);
      if (window === undefined) windows.set(row.site, (window = { labels: [], probabilities: [] }));
      window.labels.push(row.label === 1 ? 1 : 0);
      window.probabilities.push(row.probability);
    }
    const others = [...windows.entries()]
      .filter(([site]) => site !== DEFAULT_SITE)
      .sort((a, b) => b[1].labels.length - a[1].labels.length || (a[0] < b[0] ? -1 : 1))
      .slice(0, this.maxSites);
    const kept = new Map<string, Window>(others);
    const own = windows.get(DEFAULT_SITE);
    if (own !== undefined) kept.set(DEFAULT_SITE, own);
    this.windows = kept;
    this.version = version;
  }
}

/** Only validated site names become label values, and only probabilities in [0, 1] count. */
function usable(site: string, probability: number): boolean {
  return siteNameProblem(site) === undefined && probability >= 0 && probability <= 1;
}
