import type { EventEmitter } from "node:events";
import type { Logger } from "pino";
import { RetrainServiceService } from "../gen/liver/v1/retrain_service.js";
import { loadOriginalDataset } from "../shared/data/original-dataset.js";
import { GrpcServerHost } from "../shared/grpc/grpc-server-host.js";
import { startMetricsServer, type MetricsServer } from "../shared/ops/metrics-server.js";
import { grpcServerCredentials } from "../shared/tls/grpc-tls-credentials.js";
import { PLAINTEXT } from "../shared/tls/tls-settings.js";
import type { CandidateTrainer } from "./candidate-trainer.js";
import type { FeedbackScreen } from "./feedback-screen.js";
import { remeasureServingVersion } from "./holdout-remeasure.js";
import { recoverInterruptedRuns } from "./interrupted-run-recovery.js";
import { importOrReconcileOriginalData } from "./original-data-check.js";
import {
  buildRetrainComponents,
  openStores,
  type RetrainComponents,
  type RetrainServerEvents,
  type RetrainStores,
} from "./retrain-components.js";
import { storeFilePath, type RetrainConfig } from "./retrain-config.js";
import type { RetrainScheduler } from "./retrain-scheduler.js";
import { servingSnapshot } from "./retrain-service.js";
import { shutdownRetrainServer } from "./retrain-shutdown.js";
import { decideStartupRetrain } from "./startup-retrain.js";
import type { ModelRegistry, ModelVersionRecord } from "./store/model-registry.js";
import { openSqliteStore, type StoreDatabase } from "./store/sqlite-store.js";
import type { VersionBroadcaster } from "./version-broadcaster.js";

export type { RetrainServerEvents } from "./retrain-components.js";

/** The fully qualified service name health reports on. */
export const RETRAIN_SERVICE_NAME = "liver.v1.RetrainService";

/** Extras for tests and benchmarks; production passes none. */
export interface RetrainServerOptions {
  /** A substitute trainer (tests that must hold, fail or slow a run); default the worker thread. */
  readonly trainer?: CandidateTrainer;
  /** Rows of the synthetic default when no real CSV is present (tests keep it small). */
  readonly syntheticRows?: number;
  /** Process-wide default metrics (off when several servers share a test process). */
  readonly defaultMetrics?: boolean;
  /** Screens labelled feedback before it trains; default: every row trains. */
  readonly screen?: FeedbackScreen;
  /** The clock of the per-source limit (tests); default Date.now. */
  readonly now?: () => number;
}

/** A started RetrainService. */
export interface RetrainServerHandle {
  /** The bound gRPC port (useful with port 0). */
  readonly port: number;
  readonly metricsPort: number;
  readonly scheduler: RetrainScheduler;
  readonly broadcaster: VersionBroadcaster;
  readonly registry: ModelRegistry;
  readonly events: EventEmitter<RetrainServerEvents>;
  /** SIGTERM behaviour: NOT_SERVING, streams ended with UNAVAILABLE, unary calls drained, store closed. */
  close(): Promise<void>;
}

/**
 * Starts the RetrainService: opens (and migrates) the store, closes runs a previous
 * process left open as failed, imports the original data on first start, serves gRPC and
 * metrics, and then trains the first version (first start) or retrains feedback no
 * finished run covers (restart). Health is NOT_SERVING until a version serves.
 */
export async function startRetrainServer(
  config: RetrainConfig,
  logger: Logger,
  options: RetrainServerOptions = {},
): Promise<RetrainServerHandle> {
  const storeFile = storeFilePath(config);
  const db = openSqliteStore(storeFile);
  try {
    return await startOnStore(config, logger, options, db, storeFile);
  } catch (error) {
    db.close();
    throw error;
  }
}

/** The start, one named step after another. */
async function startOnStore(
  config: RetrainConfig,
  logger: Logger,
  options: RetrainServerOptions,
  db: StoreDatabase,
  storeFile: string,
): Promise<RetrainServerHandle> {
  const stores = openStores(db);
  recoverInterruptedRuns(stores.runLog, config.modelPath, logger);
  const originalDataNotice = await importOrReconcileOriginalData({
    db,
    samples: stores.samples,
    registry: stores.registry,
    load: () =>
      loadOriginalDataset({
        dataPath: config.dataPath,
        trainingCsv: config.trainingCsv,
        syntheticRows: options.syntheticRows,
      }),
    reimport: config.reimportOriginalData === true,
    logger,
  });
  // The server is built from the service, and the service reports a new serving version to the
  // server's health (onServing): nothing promotes before listen, so `host` exists by then.
  const components = await buildRetrainComponents({
    config,
    logger,
    stores,
    storeFile,
    originalDataNotice,
    trainer: options.trainer,
    screen: options.screen,
    defaultMetrics: options.defaultMetrics,
    now: options.now,
    onServing: () => host.setServing(true),
  });
  const host = buildGrpcServer(config, logger, components);
  const serving = await restoreServingState(stores, components, config.modelPath, logger);
  const { port, metricsServer } = await listen(host, components, config);

  if (serving !== undefined) host.setServing(true);
  const retrain = decideStartupRetrain({
    serving: serving !== undefined,
    pendingLabelled: components.pendingLabelled,
    minBatch: config.minBatch,
    reviewedAtMs: components.reviewStore.auditLog.latestChangeAtMs(),
    lastCompletedStartMs: stores.runLog.lastCompletedStartMs(),
  });
  if (retrain !== undefined) {
    logger.info({ pending: components.pendingLabelled }, retrain.log);
    components.scheduler.request(retrain.trigger, retrain.reason);
  }
  logStarted(logger, config, { port, metricsServer, serving, components, storeFile });

  const running = { host, components, metricsServer, db, shutdownGraceMs: config.shutdownGraceMs, logger };
  let closing: Promise<void> | undefined;
  return {
    port,
    metricsPort: metricsServer.port,
    scheduler: components.scheduler,
    broadcaster: components.broadcaster,
    registry: stores.registry,
    events: components.events,
    close: () => (closing ??= shutdownRetrainServer(running)),
  };
}

/** The grpc-js server (health, reflection, limits, TLS) with the RetrainService added. */
function buildGrpcServer(
  config: RetrainConfig,
  logger: Logger,
  components: RetrainComponents,
): GrpcServerHost {
  const host = new GrpcServerHost({
    serviceNames: [RETRAIN_SERVICE_NAME],
    logger,
    credentials: grpcServerCredentials(config.tls ?? PLAINTEXT, logger),
  });
  host.addService(RetrainServiceService, components.service.implementation());
  return host;
}

/**
 * Before listening: re-scores the serving version on the current holdout, and puts the
 * serving and the waiting (pending approval) version into the version stream and metrics.
 * Returns the serving version, undefined when none serves.
 */
async function restoreServingState(
  stores: RetrainStores,
  components: RetrainComponents,
  modelPath: string,
  logger: Logger,
): Promise<ModelVersionRecord | undefined> {
  const { registry, samples } = stores;
  const { broadcaster, metrics } = components;
  try {
    await remeasureServingVersion(registry, samples, modelPath, logger);
  } catch (error) {
    // The old figures stay, labelled with their holdout; serving is unaffected.
    logger.error({ err: error }, "could not re-score the serving version on the current holdout");
  }
  const serving = registry.serving();
  if (serving !== undefined) {
    broadcaster.setServing(servingSnapshot(serving));
    metrics.serving(serving.modelVersion);
  }
  // A candidate that waited when the service stopped still waits.
  const waiting = registry.pending();
  broadcaster.setPending(waiting?.modelVersion ?? "");
  metrics.pendingApproval(waiting);
  return serving;
}

/** Binds gRPC, the optional plaintext health port and metrics; a failed bind stops every thread. */
async function listen(
  host: GrpcServerHost,
  components: RetrainComponents,
  config: RetrainConfig,
): Promise<{ port: number; metricsServer: MetricsServer }> {
  try {
    const port = await host.listen(config.host, config.port);
    if (config.healthPort !== undefined) await host.listenHealth(config.host, config.healthPort);
    const metricsServer = await startMetricsServer(
      components.metrics.registry,
      config.metricsPort,
      config.host,
    );
    return { port, metricsServer };
  } catch (error) {
    // Nothing started may outlive a failed start: threads would keep an embedding process alive.
    await host.shutdown(0);
    await components.commitThread.close();
    await components.trainer.close();
    throw error;
  }
}

function logStarted(
  logger: Logger,
  config: RetrainConfig,
  started: {
    port: number;
    metricsServer: MetricsServer;
    serving: ModelVersionRecord | undefined;
    components: RetrainComponents;
    storeFile: string;
  },
): void {
  logger.info(
    {
      port: started.port,
      metricsPort: started.metricsServer.port,
      servingVersion: started.serving?.modelVersion ?? null,
      pendingLabelled: started.components.pendingLabelled,
      counts: started.components.counts,
      store: started.storeFile,
      modelPath: config.modelPath,
      adminRpcs:
        config.auth !== undefined
          ? `JWT with role ${config.auth.adminRole}${config.adminToken === undefined ? "" : ", or the break-glass ADMIN_TOKEN"}`
          : config.adminToken === undefined
            ? "disabled (set AUTH_ISSUER or ADMIN_TOKEN)"
            : "break-glass ADMIN_TOKEN only",
    },
    `RetrainService listening on ${config.host}:${started.port}`,
  );
}
