import type { ServingModel } from "./serving-model.js";

/** A version this replica refused to serve, and why. */
export interface ModelFailure {
  readonly version: string;
  readonly reason: string;
  readonly at: Date;
}

/** Called after every swap with the new and the previous model. */
export type SwapListener = (current: ServingModel, previous: ServingModel | undefined) => void;

/**
 * The serving model of this replica. Handlers read `current` once per request and use that
 * object for everything they answer (score, threshold, version), and a swap replaces the
 * reference in one assignment, so no request ever mixes two versions, without locks.
 */
export class ModelHolder {
  private model: ServingModel | undefined;
  private failure: ModelFailure | undefined;
  private readonly listeners = new Set<SwapListener>();

  /** The serving model, or undefined before the first one is loaded. */
  get current(): ServingModel | undefined {
    return this.model;
  }

  /** The last version refused (fetch, verification or warm-up failed), if any. */
  get lastFailure(): ModelFailure | undefined {
    return this.failure;
  }

  /** Serves `next` from now on. Call only with a verified, warmed-up model. */
  swap(next: ServingModel): void {
    const previous = this.model;
    this.model = next;
    for (const listener of this.listeners) listener(next, previous);
  }

  /** Records a refused version; the serving model is unchanged. */
  recordFailure(version: string, reason: string): void {
    this.failure = { version, reason, at: new Date() };
  }

  /** Subscribes to swaps; returns the unsubscribe function. */
  onSwap(listener: SwapListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Resolves with the model once `predicate` holds for the serving one (checked now and after
   * every swap); rejects after timeoutMs with what is serving. For tests, benches and startup.
   */
  waitFor(predicate: (model: ServingModel) => boolean, timeoutMs: number): Promise<ServingModel> {
    const now = this.model;
    if (now !== undefined && predicate(now)) return Promise.resolve(now);
    return new Promise<ServingModel>((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        reject(
          new Error(`no matching model within ${timeoutMs} ms; serving ${this.model?.version ?? "nothing"}`),
        );
      }, timeoutMs);
      const unsubscribe = this.onSwap((model) => {
        if (!predicate(model)) return;
        clearTimeout(timer);
        unsubscribe();
        resolve(model);
      });
    });
  }
}
