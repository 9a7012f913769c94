import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { RpcMetrics } from "../shared/grpc/rpc-metrics.js";
import type { DriftSnapshot } from "./input-drift-monitor.js";
import { describeSource, type ServingModel } from "./serving-model.js";

/** Stage of a model update that failed; a label of the swap-failure counter. */
export type SwapFailureStage = "fetch" | "verify" | "warmup";

type CounterChild = ReturnType<Counter["labels"]>;

/**
 * The replica's Prometheus metrics, in a registry of its own (several replicas can run in
 * one test process). Label children on the hot path are resolved once, up front, so a
 * prediction costs two increments and one observation, no label lookups. Per-method call
 * counts and latency (liver_predict_requests_total, liver_predict_handler_duration_seconds)
 * are `rpc`, counted by the middleware.
 */
export class PredictMetrics {
  readonly registry = new Registry();
  private readonly predictions: Counter<"diagnosis">;
  /** Calls and latency per method, counted by the middleware (rpc-middleware.ts). */
  readonly rpc: RpcMetrics;
  private readonly servingInfo: Gauge<"model_version" | "source">;
  private readonly swaps: Counter<"source">;
  private readonly swapFailures: Counter<"stage">;
  private readonly streamConnected: Gauge;
  private readonly reconnects: Counter;
  /** Children for the hot path. */
  readonly liverDisease: CounterChild;
  readonly noLiverDisease: CounterChild;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.predictions = new Counter({
      name: "liver_predict_predictions_total",
      help: "Patients scored, by diagnosis answered.",
      labelNames: ["diagnosis"],
      registers,
    });
    this.rpc = new RpcMetrics(this.registry, "liver_predict");
    this.servingInfo = new Gauge({
      name: "liver_predict_serving_model_info",
      help: "1 for the serving model version and where it was loaded from.",
      labelNames: ["model_version", "source"],
      registers,
    });
    this.swaps = new Counter({
      name: "liver_predict_model_swaps_total",
      help: "Model versions swapped in, by source.",
      labelNames: ["source"],
      registers,
    });
    this.swapFailures = new Counter({
      name: "liver_predict_model_swap_failures_total",
      help: "Model versions refused, by the stage that failed; the serving model was kept.",
      labelNames: ["stage"],
      registers,
    });
    this.streamConnected = new Gauge({
      name: "liver_predict_version_stream_connected",
      help: "1 while the WatchModelVersions stream delivers events, else 0.",
      registers,
    });
    this.reconnects = new Counter({
      name: "liver_predict_version_stream_reconnects_total",
      help: "Times the version stream was reopened after it ended, failed or went silent.",
      registers,
    });
    this.liverDisease = this.predictions.labels("liver_disease");
    this.noLiverDisease = this.predictions.labels("no_liver_disease");
    this.streamConnected.set(0);
  }

  /** Counts answered patients: `liverDisease` of `total` diagnosed with liver disease. */
  diagnosed(liverDisease: number, total: number): void {
    if (liverDisease > 0) this.liverDisease.inc(liverDisease);
    if (total > liverDisease) this.noLiverDisease.inc(total - liverDisease);
  }

  /** Records a swap: the serving-version gauge follows it. */
  swapped(model: ServingModel): void {
    this.servingInfo.reset();
    this.servingInfo.labels(model.version, describeSource(model.source)).set(1);
    this.swaps.labels(describeSource(model.source)).inc();
  }

  swapFailed(stage: SwapFailureStage): void {
    this.swapFailures.labels(stage).inc();
  }

  streamState(connected: boolean): void {
    this.streamConnected.set(connected ? 1 : 0);
  }

  reconnected(): void {
    this.reconnects.inc();
  }

  /**
   * Exports the input-drift state, read from `snapshot` at each scrape: PSI and the flag per
   * feature, and how full the window is.
   */
  watchDrift(snapshot: () => DriftSnapshot): void {
    const registers = [this.registry];
    let last: DriftSnapshot | undefined;
    const read = (): DriftSnapshot => (last = snapshot());
    new Gauge({
      name: "liver_predict_input_drift_psi",
      help: "Population stability index of the last inputs against the serving model's training data, per feature (NaN until the window can be judged).",
      labelNames: ["feature"],
      registers,
      collect() {
        this.reset();
        for (const f of read().features) this.labels(f.name).set(f.psi);
      },
    });
    new Gauge({
      name: "liver_predict_input_drifted",
      help: "1 while a feature is flagged as drifted (PSI above the threshold, until it falls below the clearing level).",
      labelNames: ["feature"],
      registers,
      collect() {
        this.reset();
        for (const f of (last ?? read()).features) this.labels(f.name).set(f.drifted ? 1 : 0);
      },
    });
    new Gauge({
      name: "liver_predict_input_drift_window_rows",
      help: "Inputs in the drift window (0 when the serving model carries no training profile).",
      registers,
      collect() {
        const state = last ?? read();
        this.set(state.measured ? state.windowRows : 0);
      },
    });
  }
}
