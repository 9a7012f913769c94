import type { Logger } from "pino";
import {
  ModelVersionEventKind,
  type ArtifactFile,
  type WatchModelVersionsResponse,
} from "../gen/liver/v1/retrain_service.js";
import type { ModelHolder } from "./model-holder.js";
import { ModelLoadError, errorMessage } from "./model-load-error.js";
import type { PredictMetrics } from "./predict-metrics.js";
import { describeSource, type ServingModel } from "./serving-model.js";

/** A version as the stream names it. */
export interface VersionTarget {
  readonly version: string;
  /** SHA-256 of the manifest the event announced; GetModelArtifact must return the same. */
  readonly sha256: string;
}

/** A verified, warmed-up model and the files it was built from (for the local cache). */
export interface LoadedArtifact {
  readonly model: ServingModel;
  readonly files: readonly ArtifactFile[];
}

/** A local model source tried when RetrainService cannot provide one (cache, bundle). */
export interface FallbackSource {
  readonly name: string;
  /** The model, or undefined when this source has none. Throws when it has a bad one. */
  load(): Promise<ServingModel | undefined>;
}

/** What the updater works with. */
export interface ModelUpdaterDeps {
  readonly holder: ModelHolder;
  readonly metrics: PredictMetrics;
  readonly logger: Logger;
  /** GetModelArtifact, sha256 and manifest checks, warm-up; throws ModelLoadError. */
  readonly fetchVersion: (target: VersionTarget) => Promise<LoadedArtifact>;
  /** Keeps the last good artifact; failures are logged, never fatal. */
  readonly saveToCache?: (artifact: LoadedArtifact) => Promise<void>;
  readonly fallbacks: readonly FallbackSource[];
}

function key(target: VersionTarget): string {
  return `${target.version}@${target.sha256}`;
}

/**
 * Turns version events into swaps. Loads one version at a time and coalesces: when events
 * arrive during a load, only the latest is loaded next (a replica that fell behind jumps
 * straight to the serving version). A version that fails is recorded and not served; the
 * previous model keeps answering.
 */
export class ModelUpdater {
  private wanted: VersionTarget | undefined;
  private loading: Promise<void> | undefined;
  /** Versions whose bytes were refused; not retried on heartbeats (same sha, same bytes). */
  private readonly refused = new Set<string>();
  private cacheWrites: Promise<void> = Promise.resolve();
  private fallbackTried = false;

  constructor(private readonly deps: ModelUpdaterDeps) {}

  /** Handles one event of the version stream. */
  onEvent(event: WatchModelVersionsResponse): void {
    if (event.modelVersion === "") return;
    const target: VersionTarget = { version: event.modelVersion, sha256: event.sha256 };
    const serving = this.deps.holder.current;
    if (serving !== undefined && serving.version === target.version && serving.sha256 === target.sha256) {
      this.wanted = undefined;
      return;
    }
    const heartbeat = event.kind === ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_HEARTBEAT;
    // A heartbeat naming a version we lack repairs a missed event; a refused one stays refused
    // until a real event (e.g. CURRENT after a reconnect) names it again.
    if (heartbeat && this.refused.has(key(target))) return;
    if (heartbeat && this.loading !== undefined) return;
    this.wanted = target;
    this.loading ??= this.drain();
  }

  /** Resolves when no load is running or queued (tests and shutdown wait on it). */
  async idle(): Promise<void> {
    while (this.loading !== undefined) await this.loading;
    await this.cacheWrites;
  }

  /**
   * Serves the first model a fallback source has (cache, then bundle), unless a model is
   * already serving. Runs once per process: it is for starting without RetrainService.
   */
  async loadFallback(reason: string): Promise<void> {
    if (this.fallbackTried || this.serving() !== undefined) return;
    this.fallbackTried = true;
    for (const source of this.deps.fallbacks) {
      let model: ServingModel | undefined;
      try {
        model = await source.load();
      } catch (error) {
        this.deps.logger.error(
          { source: source.name, err: errorMessage(error) },
          `${source.name} unusable: ${errorMessage(error)}`,
        );
        this.deps.metrics.swapFailed(error instanceof ModelLoadError ? error.stage : "verify");
        continue;
      }
      if (model === undefined) continue;
      // RetrainService may have delivered a model while the fallback was loading.
      if (this.serving() !== undefined) return;
      this.swapIn(model, `RetrainService unavailable (${reason})`);
      return;
    }
    if (this.serving() === undefined) {
      this.deps.logger.warn(
        { reason },
        `no model to serve: RetrainService unavailable (${reason}) and no cached or bundled artifact; NOT_SERVING until one arrives`,
      );
    }
  }

  /** Read through a call: the model can change across every await. */
  private serving(): ServingModel | undefined {
    return this.deps.holder.current;
  }

  private async drain(): Promise<void> {
    try {
      for (let target = this.wanted; target !== undefined; target = this.wanted) {
        this.wanted = undefined;
        const serving = this.deps.holder.current;
        if (serving?.version === target.version && serving.sha256 === target.sha256) continue;
        await this.load(target);
      }
    } finally {
      this.loading = undefined;
    }
  }

  private async load(target: VersionTarget): Promise<void> {
    const started = performance.now();
    let artifact: LoadedArtifact;
    try {
      artifact = await this.deps.fetchVersion(target);
    } catch (error) {
      const failure =
        error instanceof ModelLoadError ? error : new ModelLoadError("fetch", errorMessage(error), true);
      if (!failure.retryable) this.refused.add(key(target));
      this.deps.holder.recordFailure(target.version, failure.message);
      this.deps.metrics.swapFailed(failure.stage);
      this.deps.logger.error(
        {
          modelVersion: target.version,
          stage: failure.stage,
          retryable: failure.retryable,
          serving: this.deps.holder.current?.version ?? null,
        },
        `model ${target.version} refused at ${failure.stage}: ${failure.message}; keeping ${this.deps.holder.current?.version ?? "no model"}`,
      );
      if (this.deps.holder.current === undefined) await this.loadFallback(failure.message);
      return;
    }
    this.swapIn(
      artifact.model,
      `${(performance.now() - started).toFixed(0)} ms to fetch, verify and warm up`,
    );
    const save = this.deps.saveToCache;
    if (save !== undefined) {
      this.cacheWrites = this.cacheWrites
        .then(() => save(artifact))
        .catch((error: unknown) =>
          this.deps.logger.warn(
            { modelVersion: artifact.model.version, err: errorMessage(error) },
            `could not cache model ${artifact.model.version}: ${errorMessage(error)}`,
          ),
        );
    }
  }

  private swapIn(model: ServingModel, why: string): void {
    const previous = this.deps.holder.current;
    this.deps.holder.swap(model);
    this.deps.metrics.swapped(model);
    this.deps.logger.info(
      {
        modelVersion: model.version,
        previousVersion: previous?.version ?? null,
        source: describeSource(model.source),
        sha256: model.sha256,
      },
      `serving model ${model.version} from ${describeSource(model.source)} (${why})`,
    );
  }
}
