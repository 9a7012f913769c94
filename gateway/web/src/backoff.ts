/**
 * Exponential backoff with jitter for reconnecting to a service that went away: quick
 * first retries so a restart is noticed within a second, capped so a long outage costs one
 * request every few seconds, and jittered so many open pages do not retry in lockstep.
 */

/** Backoff settings; every field has a default. */
export interface BackoffOptions {
  /** First delay in ms (default 500). */
  readonly initialMs?: number;
  /** Largest delay in ms (default 8000). */
  readonly maxMs?: number;
  /** Growth per attempt (default 2). */
  readonly factor?: number;
  /** Fraction of the delay randomized, 0 to 1 (default 0.2: 80 % to 100 % of the delay). */
  readonly jitter?: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  readonly random?: () => number;
}

/** Delays for successive retries; `reset` after a success. */
export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 500;
    this.maxMs = options.maxMs ?? 8000;
    this.factor = options.factor ?? 2;
    this.jitter = options.jitter ?? 0.2;
    this.random = options.random ?? Math.random;
    if (!(this.initialMs > 0 && this.maxMs >= this.initialMs && this.factor >= 1)) {
      throw new RangeError(
        `backoff needs initialMs > 0, maxMs >= initialMs and factor >= 1; got ${this.initialMs}, ${this.maxMs}, ${this.factor}`,
      );
    }
    if (!(this.jitter >= 0 && this.jitter <= 1))
      throw new RangeError(`backoff jitter must be 0 to 1; got ${this.jitter}`);
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next retry, in ms; grows with each call. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.factor ** this.attempt);
    this.attempt++;
    return Math.round(base * (1 - this.jitter * this.random()));
  }

  /** Starts over from the first delay. */
  reset(): void {
    this.attempt = 0;
  }
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
