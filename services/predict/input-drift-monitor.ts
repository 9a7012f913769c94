/**
 * Watches what this replica scores: a sliding window of the last inputs, binned with the
 * serving model's training profile (the training data's deciles, from pipeline.json), and
 * each feature's population stability index (PSI) against the training proportions.
 *
 * Why PSI and not a two-sample test (Kolmogorov-Smirnov, chi-squared): a test's p-value
 * answers "is there any difference at all", so on a large window even a harmless shift is
 * "significant", and on a small one nothing is; PSI measures how large the shift is, with
 * thresholds in common use in credit and clinical scoring (below 0.1 stable, 0.1 to 0.25
 * moderate, above 0.25 major). It also needs nothing of the training data but its bin
 * proportions (a few numbers per feature in the artifact), and updating the window costs
 * one bin lookup per feature per prediction. Under no drift, n·PSI is roughly chi-squared
 * with (bins - 1) degrees of freedom, so with a window of at least MIN_WINDOW_ROWS the
 * major threshold is far in the tail (input-drift-monitor.test.ts checks 100,000 training
 * draws never flag, and a doubled ALT flags within 500).
 */
import type { InputDrift } from "../gen/liver/v1/predict_service.js";
import { FEATURE_COUNT } from "../shared/features/feature-schema.js";
import { binOf, type InputProfile } from "../shared/model/input-profile.js";

/** Inputs in the window by default. */
export const DRIFT_WINDOW_ROWS = 500;
/** Rows the window needs before PSI is judged: fewer would flag on noise. */
export const MIN_WINDOW_ROWS = 200;
/** PSI above which a feature is flagged as drifted ("major shift"). */
export const DRIFT_PSI_THRESHOLD = 0.25;
/** PSI below which a flagged feature is cleared (hysteresis: no flapping at the threshold). */
export const DRIFT_PSI_CLEAR = 0.1;
/** Pseudo-count per bin, so an empty bin gives a large but finite PSI term. */
const SMOOTHING = 0.5;
/** Floor for a training proportion of 0 (a bin the training rows never reached). */
const MIN_PROPORTION = 1e-4;
/**
 * Rows of one PredictBatch call that enter the window at most (evenly spaced): one caller's
 * batch of 10,000 must not replace the window twenty times over, and the batch path stays
 * cheap (a bin lookup per feature for 64 rows, not for every row).
 */
export const BATCH_SAMPLE_ROWS = 64;
/** Observations between two evaluations of the flags (reading the state evaluates at once). */
const EVALUATE_EVERY = 25;

/** One feature's state. */
export interface FeatureDrift {
  readonly name: string;
  /** PSI of the window against the training proportions; NaN while not measured. */
  readonly psi: number;
  readonly drifted: boolean;
  /** When the feature was first flagged in its current drifted spell. */
  readonly driftingSince: Date | undefined;
}

/** The replica's drift state, as GetModelInfo and the metrics report it. */
export interface DriftSnapshot {
  readonly threshold: number;
  readonly clearBelow: number;
  /** Whether the serving model carries a training profile (older artifacts do not). */
  readonly measured: boolean;
  readonly windowRows: number;
  readonly windowSize: number;
  readonly features: readonly FeatureDrift[];
}

/** Tuning; the defaults are the documented ones. */
export interface DriftMonitorOptions {
  readonly windowRows?: number;
  readonly minRows?: number;
  readonly threshold?: number;
  readonly clearBelow?: number;
  readonly now?: () => Date;
}

/** The sliding window and the flags; synchronous and allocation-free per observation. */
export class InputDriftMonitor {
  private readonly size: number;
  private readonly minRows: number;
  private readonly threshold: number;
  private readonly clearBelow: number;
  private readonly now: () => Date;
  /** Raw inputs of the window, row-major (kept so a new profile can re-bin them). */
  private readonly values: Float64Array;
  /** Bin of each window row per feature. */
  private readonly bins: Uint8Array;
  private profile: InputProfile | undefined;
  private edges: Float64Array[] = [];
  private expected: Float64Array[] = [];
  private counts: Float64Array[] = [];
  private next = 0;
  private filled = 0;
  private sinceEvaluation = 0;
  private readonly psi = new Float64Array(FEATURE_COUNT).fill(Number.NaN);
  private readonly since: (Date | undefined)[] = new Array<Date | undefined>(FEATURE_COUNT).fill(undefined);

  constructor(options: DriftMonitorOptions = {}) {
    this.size = options.windowRows ?? DRIFT_WINDOW_ROWS;
    this.minRows = Math.min(options.minRows ?? MIN_WINDOW_ROWS, this.size);
    this.threshold = options.threshold ?? DRIFT_PSI_THRESHOLD;
    this.clearBelow = options.clearBelow ?? DRIFT_PSI_CLEAR;
    this.now = options.now ?? (() => new Date());
    this.values = new Float64Array(this.size * FEATURE_COUNT);
    this.bins = new Uint8Array(this.size * FEATURE_COUNT);
  }

  /**
   * Uses a new model's training profile (undefined: not measured). The window's inputs are
   * kept and re-binned, so a model swap does not blind the monitor; flags are re-judged.
   */
  setProfile(profile: InputProfile | undefined): void {
    this.profile = profile;
    if (profile === undefined) {
      this.edges = [];
      this.expected = [];
      this.counts = [];
      this.psi.fill(Number.NaN);
      this.since.fill(undefined);
      return;
    }
    this.edges = profile.features.map((f) => Float64Array.from(f.edges));
    this.expected = profile.features.map((f) =>
      Float64Array.from(f.proportions, (p) => Math.max(p, MIN_PROPORTION)),
    );
    this.counts = profile.features.map((f) => new Float64Array(f.proportions.length));
    for (let slot = 0; slot < this.filled; slot++) this.binRow(slot);
    this.evaluate();
  }

  /** Adds the raw vector at vectors[offset ..] to the window (the oldest leaves when full). */
  observe(vectors: Float64Array, offset: number): void {
    if (this.profile === undefined) return;
    const slot = this.next;
    const base = slot * FEATURE_COUNT;
    if (this.filled === this.size) {
      for (let i = 0; i < FEATURE_COUNT; i++) {
        const counts = this.counts[i] as Float64Array;
        const old = this.bins[base + i] as number;
        counts[old] = (counts[old] as number) - 1;
      }
    } else {
      this.filled++;
    }
    for (let i = 0; i < FEATURE_COUNT; i++) this.values[base + i] = vectors[offset + i] as number;
    this.binRow(slot);
    this.next = slot + 1 === this.size ? 0 : slot + 1;
    if (++this.sinceEvaluation >= EVALUATE_EVERY) this.evaluate();
  }

  /** Adds up to BATCH_SAMPLE_ROWS evenly spaced rows of a batch of `count` raw vectors. */
  observeBatch(vectors: Float64Array, count: number): void {
    if (this.profile === undefined || count === 0) return;
    const taken = Math.min(count, BATCH_SAMPLE_ROWS);
    for (let k = 0; k < taken; k++) this.observe(vectors, Math.floor((k * count) / taken) * FEATURE_COUNT);
  }

  /** The current state (evaluated now). */
  snapshot(): DriftSnapshot {
    if (this.profile !== undefined) this.evaluate();
    return {
      threshold: this.threshold,
      clearBelow: this.clearBelow,
      measured: this.profile !== undefined,
      windowRows: this.filled,
      windowSize: this.size,
      features: (this.profile?.features ?? []).map((f, i) => ({
        name: f.name,
        psi: this.psi[i] as number,
        drifted: this.since[i] !== undefined,
        driftingSince: this.since[i],
      })),
    };
  }

  private binRow(slot: number): void {
    const base = slot * FEATURE_COUNT;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const bin = binOf(this.edges[i] as Float64Array, this.values[base + i] as number);
      this.bins[base + i] = bin;
      const counts = this.counts[i] as Float64Array;
      counts[bin] = (counts[bin] as number) + 1;
    }
  }

  /** PSI per feature, then the flags: set above the threshold, cleared below clearBelow. */
  private evaluate(): void {
    this.sinceEvaluation = 0;
    if (this.filled < this.minRows) {
      this.psi.fill(Number.NaN);
      return;
    }
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const counts = this.counts[i] as Float64Array;
      const expected = this.expected[i] as Float64Array;
      const total = this.filled + SMOOTHING * counts.length;
      let psi = 0;
      for (let b = 0; b < counts.length; b++) {
        const actual = ((counts[b] as number) + SMOOTHING) / total;
        const e = expected[b] as number;
        psi += (actual - e) * Math.log(actual / e);
      }
      this.psi[i] = psi;
      if (psi > this.threshold) this.since[i] ??= this.now();
      else if (psi < this.clearBelow) this.since[i] = undefined;
    }
  }
}

/** A snapshot as liver.v1.InputDrift (GetModelInfo). */
export function inputDriftMessage(snapshot: DriftSnapshot): InputDrift {
  return {
    measured: snapshot.measured,
    windowRows: snapshot.windowRows,
    windowSize: snapshot.windowSize,
    threshold: snapshot.threshold,
    clearBelow: snapshot.clearBelow,
    features: snapshot.features.map((f) => ({
      name: f.name,
      psi: f.psi,
      drifted: f.drifted,
      driftingSince: f.driftingSince,
    })),
  };
}
