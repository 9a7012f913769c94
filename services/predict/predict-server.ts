import type { Logger } from "pino";
import { DEFAULT_TRUSTED_GATEWAY_ADDRESSES, parseTrustedAddresses } from "../shared/net/trusted-gateways.js";
import { SiteResolver } from "../shared/sites/site-resolver.js";
import { CallerAuthenticator } from "../shared/auth/caller-authenticator.js";
import { logAuthMode } from "../shared/auth/auth-log.js";
import { grpcChannelCredentials, grpcServerCredentials } from "../shared/tls/grpc-tls-credentials.js";
import { PLAINTEXT } from "../shared/tls/tls-settings.js";
import { GrpcServerHost } from "../shared/grpc/grpc-server-host.js";
import { startMetricsServer } from "../shared/ops/metrics-server.js";
import { ArtifactFetcher } from "./artifact-fetcher.js";
import { bundledFallback, cacheFallback } from "./fallback-sources.js";
import { ModelCache } from "./model-cache.js";
import { ModelHolder } from "./model-holder.js";
import { SwapTracing, servingAttributes } from "./predict-tracing.js";
import { tracingEnabled } from "../shared/ops/tracing.js";
import { traceUnaryCalls } from "../shared/ops/server-call-tracing.js";
import { ModelVersionLibrary } from "./model-version-library.js";
import { OPEN_INFERENCE_SERVICE_NAME, OpenInferenceService } from "./open-inference-service.js";
import { GRPCInferenceServiceService } from "../gen/open_inference_grpc.js";
import { ModelLoader, lazyTfjsEvaluator } from "./model-loader.js";
import { type FallbackSource, ModelUpdater } from "./model-updater.js";
import { InputDriftMonitor } from "./input-drift-monitor.js";
import type { PredictConfig } from "./predict-config.js";
import { PredictMetrics } from "./predict-metrics.js";
import { PredictService } from "./predict-service.js";
import { FAST_PREDICT_SERVICE_DEFINITION } from "./predict-wire-codec.js";
import { PredictionTokenSigner } from "./prediction-token-signer.js";
import { RetrainConnection } from "./retrain-connection.js";
import { VersionSubscriber } from "./version-subscriber.js";

/** Fully qualified name, as grpc.health.v1 and reflection know the service. */
export const PREDICT_SERVICE_NAME = "liver.v1.PredictService";

/** A running PredictService replica. */
export interface PredictServer {
  /** Bound gRPC port (useful when the config asked for 0). */
  readonly port: number;
  /** Bound Prometheus port. */
  readonly metricsPort: number;
  /** The serving model; tests and benches wait on its swaps. */
  readonly holder: ModelHolder;
  readonly metrics: PredictMetrics;
  /** Whether the version stream currently delivers events. */
  readonly subscribed: () => boolean;
  /** Resolves when no model load or cache write is running (tests use it). */
  idle(): Promise<void>;
  /** NOT_SERVING, stop following versions, let calls finish for up to graceMs, then stop. */
  close(graceMs?: number): Promise<void>;
}

/** Replaceable parts, for tests. */
export interface PredictServerOptions {
  readonly loader?: ModelLoader;
}

/**
 * Starts one replica: the gRPC server (health NOT_SERVING until a model is in), metrics,
 * and the version subscription that loads, verifies, warms up and swaps models. When
 * RetrainService cannot deliver a model at start (its first stream fails, or nothing
 * arrives within startupFallbackMs), the local cache, then the bundled artifact, is served.
 */
export async function startPredictServer(
  config: PredictConfig,
  logger: Logger,
  options: PredictServerOptions = {},
): Promise<PredictServer> {
  const metrics = new PredictMetrics();
  const holder = new ModelHolder();
  const tls = config.tls ?? PLAINTEXT;
  const connection = new RetrainConnection(config.retrainAddr, grpcChannelCredentials(tls, logger));
  const loader = options.loader ?? new ModelLoader(config.validateWithTfjs ? lazyTfjsEvaluator : undefined);
  const cache = new ModelCache(config.modelCachePath);
  const fetcher = new ArtifactFetcher({ connection, loader, timeoutMs: config.artifactFetchTimeoutMs });
  const fallbacks: FallbackSource[] = [cacheFallback(cache, loader)];
  if (config.bundledModelPath !== undefined) fallbacks.push(bundledFallback(config.bundledModelPath, loader));
  const updater = new ModelUpdater({
    holder,
    metrics,
    logger: logger.child({ component: "model-updater" }),
    fetchVersion: (target) => fetcher.fetch(target),
    saveToCache: (artifact) => cache.save(artifact.model.version, artifact.model.sha256, artifact.files),
    fallbacks,
  });

  const swapTracing = new SwapTracing();
  holder.onSwap((model) => swapTracing.swapped(model));
  const subscriber = new VersionSubscriber({
    connection,
    logger: logger.child({ component: "version-subscriber" }),
    onEvent: (event) => {
      swapTracing.eventReceived(event);
      return updater.onEvent(event);
    },
    onSubscribedChange: (live) => metrics.streamState(live),
    onStreamEnded: (delivered, ended) => {
      metrics.reconnected();
      if (!delivered && holder.current === undefined) {
        void updater.loadFallback(`RetrainService at ${config.retrainAddr}: ${ended.details}`);
      }
    },
    afterVersion: () => holder.current?.version ?? "",
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    reconnectInitialMs: config.reconnectInitialMs,
    reconnectMaxMs: config.reconnectMaxMs,
  });
  const subscribed = (): boolean => subscriber.subscribed;
  const drift = new InputDriftMonitor();
  holder.onSwap((model) => drift.setProfile(model.inputProfile));
  metrics.watchDrift(() => drift.snapshot());
  const host = new GrpcServerHost({
    serviceNames: [PREDICT_SERVICE_NAME, OPEN_INFERENCE_SERVICE_NAME],
    logger,
    credentials: grpcServerCredentials(tls, logger),
  });
  const authenticator = config.auth === undefined ? undefined : new CallerAuthenticator(config.auth);
  const service = new PredictService({
    holder,
    signer: new PredictionTokenSigner(config.signingKey),
    metrics,
    logger,
    isSubscribed: subscribed,
    auth: authenticator,
    explainPredictions: config.explainPredictions,
    drift,
    sites: new SiteResolver(
      config.trustedGateways ?? parseTrustedAddresses(DEFAULT_TRUSTED_GATEWAY_ADDRESSES),
    ),
  });
  logAuthMode(logger, config.auth, "Predict and PredictBatch");
  host.addService(
    FAST_PREDICT_SERVICE_DEFINITION,
    tracingEnabled()
      ? traceUnaryCalls(FAST_PREDICT_SERVICE_DEFINITION, service.implementation(), servingAttributes(holder))
      : service.implementation(),
  );
  holder.onSwap(() => host.setServing(true));
  // The Open Inference Protocol on the same port, behind the same TLS and sign-in.
  const openInference = new OpenInferenceService({
    holder,
    signer: new PredictionTokenSigner(config.signingKey),
    metrics,
    logger,
    library: new ModelVersionLibrary({ connection, fetcher, timeoutMs: config.artifactFetchTimeoutMs }),
    isServing: () => host.isServing,
    auth: authenticator,
    drift,
  });
  host.addService(
    GRPCInferenceServiceService,
    tracingEnabled()
      ? traceUnaryCalls(
          GRPCInferenceServiceService,
          openInference.implementation(),
          servingAttributes(holder),
        )
      : openInference.implementation(),
  );

  const port = await host.listen(config.host, config.port);
  if (config.healthPort !== undefined) await host.listenHealth(config.host, config.healthPort);
  let metricsServer;
  try {
    metricsServer = await startMetricsServer(metrics.registry, config.metricsPort, config.host);
  } catch (error) {
    await host.shutdown(0);
    throw error;
  }

  subscriber.start();
  const fallbackTimer = setTimeout(() => {
    void updater.loadFallback(
      `no model from RetrainService at ${config.retrainAddr} within ${config.startupFallbackMs} ms`,
    );
  }, config.startupFallbackMs);
  fallbackTimer.unref();

  let closing: Promise<void> | undefined;
  return {
    port,
    metricsPort: metricsServer.port,
    holder,
    metrics,
    subscribed,
    idle: () => updater.idle(),
    close: (graceMs = config.shutdownGraceMs) => {
      closing ??= (async () => {
        clearTimeout(fallbackTimer);
        subscriber.stop();
        await host.shutdown(graceMs);
        await metricsServer.close();
        await updater.idle();
        connection.close();
        logger.info("PredictService stopped");
      })();
      return closing;
    },
  };
}
