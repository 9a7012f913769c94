/** Default FEEDBACK_PER_SOURCE_PER_HOUR: labelled feedbacks one source may send per sliding hour. */
export const DEFAULT_FEEDBACK_PER_SOURCE_PER_HOUR = 200;

/** The sliding window of the per-source limit. */
export const SOURCE_WINDOW_MS = 3_600_000;

/** A granted slot; give it back when the feedback was not stored after all (duplicate, failure). */
export interface SourceGrant {
  release(): void;
}

/** The limiter's answer: a grant, or how long until the source may send again. */
export type SourceDecision =
  | { readonly allowed: true; readonly grant: SourceGrant }
  | { readonly allowed: false; readonly retryAfterMs: number };

/** Options of SourceRateLimiter. */
export interface SourceRateLimiterOptions {
  /** Labelled feedbacks per source per window; 0 disables the limit. */
  readonly perWindow: number;
  readonly windowMs?: number;
  /** The clock (tests pass their own). */
  readonly now?: () => number;
}

/**
 * Limits how many labelled feedbacks one source may submit per sliding hour, so no single
 * sender can outvote everyone else between two operator reviews. It keeps each source's
 * recent arrival times; start it from the store (seed) so a restart does not reset the
 * count. Slots are taken before the commit (concurrent calls cannot overshoot) and given
 * back when the row was not stored.
 */
export class SourceRateLimiter {
  private readonly recent = new Map<string, number[]>();
  private readonly windowMs: number;
  private readonly now: () => number;
  private calls = 0;

  constructor(private readonly options: SourceRateLimiterOptions) {
    this.windowMs = options.windowMs ?? SOURCE_WINDOW_MS;
    this.now = options.now ?? Date.now;
  }

  /** Labelled feedbacks per source per window; 0 when unlimited. */
  get limit(): number {
    return this.options.perWindow;
  }

  /** Whether the limit is on. */
  get enabled(): boolean {
    return this.options.perWindow > 0;
  }

  /** Adds arrivals already stored (oldest first), e.g. the last hour read from the store at start. */
  seed(arrivals: Iterable<{ readonly source: string; readonly receivedAtMs: number }>): void {
    if (!this.enabled) return;
    for (const { source, receivedAtMs } of arrivals) this.timesOf(source).push(receivedAtMs);
    for (const times of this.recent.values()) times.sort((a, b) => a - b);
  }

  /** Takes a slot for `source` now, or says when the oldest arrival in the window leaves it. */
  take(source: string): SourceDecision {
    if (!this.enabled) return { allowed: true, grant: { release: () => undefined } };
    const now = this.now();
    if (++this.calls % 1024 === 0) this.sweep(now);
    const times = this.timesOf(source);
    prune(times, now - this.windowMs);
    if (times.length >= this.options.perWindow) {
      const oldest = times[0] ?? now;
      return { allowed: false, retryAfterMs: Math.max(1, oldest + this.windowMs - now) };
    }
    times.push(now);
    let released = false;
    return {
      allowed: true,
      grant: {
        release: () => {
          if (released) return;
          released = true;
          const index = times.lastIndexOf(now);
          if (index !== -1) times.splice(index, 1);
        },
      },
    };
  }

  /** Sources currently tracked (for tests: idle sources are forgotten). */
  get trackedSources(): number {
    return this.recent.size;
  }

  private timesOf(source: string): number[] {
    let times = this.recent.get(source);
    if (times === undefined) {
      times = [];
      this.recent.set(source, times);
    }
    return times;
  }

  /** Forgets sources with nothing in the window, so memory follows active senders only. */
  private sweep(now: number): void {
    for (const [source, times] of this.recent) {
      prune(times, now - this.windowMs);
      if (times.length === 0) this.recent.delete(source);
    }
  }
}

/** Drops times at or before `cutoff` (the array is sorted oldest first). */
function prune(times: number[], cutoff: number): void {
  let drop = 0;
  while (drop < times.length && (times[drop] ?? 0) <= cutoff) drop++;
  if (drop > 0) times.splice(0, drop);
}
