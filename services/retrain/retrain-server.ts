import { EventEmitter } from "node:events";
import { SiteResolver } from "../shared/sites/site-resolver.js";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import { ModelVersionEventKind, RetrainServiceService } from "../gen/liver/v1/retrain_service.js";
import { loadOriginalDataset } from "../shared/data/original-dataset.js";
import { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import { grpcServerCredentials } from "../shared/tls/grpc-tls-credentials.js";
import { PLAINTEXT } from "../shared/tls/tls-settings.js";
import { GrpcServerHost } from "../shared/grpc/grpc-server-host.js";
import { isTemporaryArtifactName } from "../shared/model/model-artifact.js";
import { startMetricsServer } from "../shared/ops/metrics-server.js";
import { AdminAuth } from "./admin-auth.js";
import { logAuthMode } from "../shared/auth/auth-log.js";
import { CallerAuthenticator } from "../shared/auth/caller-authenticator.js";
import { DiskArtifactSource } from "./artifact-source.js";
import type { CandidateTrainer } from "./candidate-trainer.js";
import { remeasureServingVersion } from "./holdout-remeasure.js";
import { reconcileOriginalData } from "./original-data-check.js";
import { FeedbackAttribution } from "./feedback-attribution.js";
import { FeedbackCommitThread } from "./feedback-commit-thread.js";
import { FeedbackReview } from "./feedback-review.js";
import { ModelApproval } from "./model-approval.js";
import { acceptAllScreen, type FeedbackScreen } from "./feedback-screen.js";
import { PlausibilityScreen } from "./plausibility-screen.js";
import { FeedbackWriter } from "./feedback-writer.js";
import { storeFilePath, type RetrainConfig } from "./retrain-config.js";
import { RetrainMetrics } from "./retrain-metrics.js";
import { RetrainRunner } from "./retrain-runner.js";
import { RetrainScheduler } from "./retrain-scheduler.js";
import { RetrainService, servingSnapshot } from "./retrain-service.js";
import { SOURCE_WINDOW_MS, SourceRateLimiter } from "./source-rate-limiter.js";
import { FeedbackReviewStore } from "./store/feedback-review-store.js";
import { FeedbackStore } from "./store/feedback-store.js";
import { ModelRegistry, type ModelVersionRecord } from "./store/model-registry.js";
import { RunLog, type RunOutcome } from "./store/run-log.js";
import { SampleStore } from "./store/sample-store.js";
import { openSqliteStore, type StoreDatabase } from "./store/sqlite-store.js";
import { SiteCalibrationDrift } from "./site-calibration-drift.js";
import { VersionVerdicts } from "./version-verdicts.js";
import { WorkerTrainer } from "./training-worker.js";
import { VersionBroadcaster } from "./version-broadcaster.js";
import { RetrainTracing, tracedTrainer } from "./retrain-tracing.js";

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

/** Events of a running server, for tests and benchmarks. */
export interface RetrainServerEvents {
  "run-finished": [outcome: RunOutcome, record: ModelVersionRecord | undefined];
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

async function startOnStore(
  config: RetrainConfig,
  logger: Logger,
  options: RetrainServerOptions,
  db: StoreDatabase,
  storeFile: string,
): Promise<RetrainServerHandle> {
  const feedback = new FeedbackStore(db);
  const samples = new SampleStore(db);
  const registry = new ModelRegistry(db);
  const runLog = new RunLog(db);

  const interrupted = runLog.failInterrupted(
    "interrupted: the RetrainService stopped during the run; its feedback is retrained after the restart",
  );
  if (interrupted > 0) logger.warn({ interrupted }, `marked ${interrupted} interrupted run(s) as failed`);
  removeTemporaryArtifacts(config.modelPath, logger);

  const loadOriginal = (): ReturnType<typeof loadOriginalDataset> =>
    loadOriginalDataset({
      dataPath: config.dataPath,
      trainingCsv: config.trainingCsv,
      syntheticRows: options.syntheticRows,
    });
  let originalDataNotice = "";
  if (samples.info() === undefined) {
    const loaded = await loadOriginal();
    const info = samples.importDataset(loaded.dataset, loaded.description);
    logger.info({ rows: info.rows, source: info.source }, `imported the original data: ${info.description}`);
  } else {
    originalDataNotice = await reconcileOriginalData({
      db,
      samples,
      registry,
      load: loadOriginal,
      reimport: config.reimportOriginalData === true,
      logger,
    });
  }

  const metrics = new RetrainMetrics({ defaultMetrics: options.defaultMetrics ?? true });
  const events = new EventEmitter<RetrainServerEvents>();
  const host = new GrpcServerHost({
    serviceNames: [RETRAIN_SERVICE_NAME],
    logger,
    credentials: grpcServerCredentials(config.tls ?? PLAINTEXT, logger),
  });
  const broadcaster = new VersionBroadcaster({
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    onLagging: (stats) =>
      logger.warn(stats, "a version-stream subscriber is not reading; it gets only the latest event"),
  });
  const commitThread = new FeedbackCommitThread(storeFile, logger);
  await commitThread.start();
  const writer = new FeedbackWriter(commitThread, {
    onBatch: (size, durationMs) => metrics.committed(size, durationMs),
  });
  // Spans linking verdicts, runs, promotions and replicas' swaps (no-ops while tracing is off).
  const tracing = new RetrainTracing();
  const trainer = tracedTrainer(options.trainer ?? WorkerTrainer.forConfig(config, logger));
  const servingChanged = (record: ModelVersionRecord): void => {
    metrics.serving(record.modelVersion);
    host.setServing(true);
  };
  const runner = new RetrainRunner({
    db,
    registry,
    runLog,
    feedback,
    trainer,
    modelPath: config.modelPath,
    gatePolicy: config.gatePolicy,
    metrics,
    logger,
    onPromoted: (record) => {
      // A promotion supersedes a candidate that was waiting: the stream and the metric say so.
      const waiting = registry.pending();
      broadcaster.setPending(waiting?.modelVersion ?? "");
      metrics.pendingApproval(waiting);
      broadcaster.publish(ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_PROMOTED, {
        ...servingSnapshot(record),
        traceparent: tracing.promoted(record),
      });
      servingChanged(record);
    },
    onPending: (record) => {
      broadcaster.publishPending(record.modelVersion);
      metrics.pendingApproval(record);
      logger.warn(
        { modelVersion: record.modelVersion, reason: record.reason },
        `${record.modelVersion} waits for an admin's approval (ApproveModelVersion or RejectModelVersion)`,
      );
    },
    onRunFinished: (outcome, record) => {
      tracing.runFinished(outcome, record);
      events.emit("run-finished", outcome, record);
    },
  });
  const pending = feedback.labelledCountBetween(runLog.coveredFeedbackSeq());
  const scheduler = new RetrainScheduler({
    debounceMs: config.debounceMs,
    minBatch: config.minBatch,
    initialPending: pending,
    startRun: (trigger, reason) => tracing.traceRun(trigger, reason, () => runner.start(trigger, reason)),
    onLabelledFeedback: (seq) => tracing.verdictCommitted(seq),
    onStateChange: (state) => logger.debug({ state }, `retrainer ${state}`),
  });
  const counts = feedback.counts();
  const now = options.now ?? Date.now;
  const sourceLimiter = new SourceRateLimiter({ perWindow: config.feedbackPerSourcePerHour, now });
  // From the store, so a restart does not hand every source a fresh hour.
  if (sourceLimiter.enabled) sourceLimiter.seed(feedback.labelledReceivedSince(now() - SOURCE_WINDOW_MS));
  const reviewStore = new FeedbackReviewStore(db);
  const callers = config.auth === undefined ? undefined : new CallerAuthenticator(config.auth);
  logAuthMode(logger, config.auth, "SubmitFeedback");
  const verdicts = VersionVerdicts.load(db);
  metrics.watchVerdicts(verdicts);
  const drift = new SiteCalibrationDrift(db, { maxSites: config.maxSites });
  metrics.watchCalibrationDrift(drift, () => broadcaster.current?.modelVersion ?? "");
  const artifacts = new DiskArtifactSource({
    modelPath: config.modelPath,
    expectedSha256: (version) => registry.get(version)?.sha256,
  });
  const service = new RetrainService({
    signer: new FeedbackTokenSigner(config.signingKey),
    writer,
    scheduler,
    runner,
    registry,
    runLog,
    original: () => samples.info(),
    originalDataNotice: () => originalDataNotice,
    counts,
    broadcaster,
    artifacts,
    adminAuth: new AdminAuth(config.adminToken, callers, logger),
    callers,
    metrics,
    logger,
    onServingChanged: servingChanged,
    attribution: new FeedbackAttribution(config.trustedGateways),
    sourceLimiter,
    review: new FeedbackReview({
      store: reviewStore,
      scheduler,
      logger,
      onChanged: () => drift.invalidate(),
    }),
    screen:
      options.screen ??
      (config.feedbackScreening ? new PlausibilityScreen(samples.loadDataset()) : acceptAllScreen),
    verdicts,
    drift,
    approval: new ModelApproval({
      registry,
      artifacts,
      broadcaster,
      snapshot: servingSnapshot,
      onServingChanged: servingChanged,
      onPendingChanged: (record) => metrics.pendingApproval(record),
      logger,
    }),
    storedFeedback: (issuedAtMs, predictionId) => feedback.storedFeedback(issuedAtMs, predictionId),
    sites: new SiteResolver(config.trustedGateways),
  });
  metrics.bind({
    pendingLabelled: () => scheduler.pendingLabelled,
    subscribers: () => broadcaster.stats().subscribers,
    laggingSubscribers: () => broadcaster.stats().lagging,
    state: () => scheduler.state,
  });
  host.addService(RetrainServiceService, service.implementation());

  try {
    await remeasureServingVersion(registry, samples, config.modelPath, logger);
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
  let port: number;
  let metricsServer;
  try {
    port = await host.listen(config.host, config.port);
    if (config.healthPort !== undefined) await host.listenHealth(config.host, config.healthPort);
    metricsServer = await startMetricsServer(metrics.registry, config.metricsPort, config.host);
  } catch (error) {
    // Nothing started may outlive a failed start: threads would keep an embedding process alive.
    await host.shutdown(0);
    await commitThread.close();
    await trainer.close();
    throw error;
  }

  if (serving === undefined) {
    logger.info("no version serves yet: training the first one");
    scheduler.request("startup", "no version serves yet");
  } else {
    host.setServing(true);
    const reviewedAtMs = reviewStore.auditLog.latestChangeAtMs();
    if (pending >= config.minBatch) {
      logger.info({ pending }, `retraining ${pending} labelled feedback(s) no finished run covers`);
      scheduler.request("recovery", `${pending} labelled feedback(s) not covered by a finished run`);
    } else if (reviewedAtMs !== undefined && reviewedAtMs >= (runLog.lastCompletedStartMs() ?? 0)) {
      // An exclusion or release after the last completed run: no model reflects it yet.
      logger.info("retraining: feedback was excluded or released after the last completed run");
      scheduler.request("recovery", "feedback excluded or released after the last completed run");
    }
  }
  logger.info(
    {
      port,
      metricsPort: metricsServer.port,
      servingVersion: serving?.modelVersion ?? null,
      pendingLabelled: pending,
      counts,
      store: storeFile,
      modelPath: config.modelPath,
      adminRpcs:
        config.auth !== undefined
          ? `JWT with role ${config.auth.adminRole}${config.adminToken === undefined ? "" : ", or the break-glass ADMIN_TOKEN"}`
          : config.adminToken === undefined
            ? "disabled (set AUTH_ISSUER or ADMIN_TOKEN)"
            : "break-glass ADMIN_TOKEN only",
    },
    `RetrainService listening on ${config.host}:${port}`,
  );

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      host.setServing(false);
      broadcaster.close(
        "the RetrainService is shutting down; reconnect with after_version set to the last version seen",
      );
      runner.abort("the RetrainService is shutting down");
      await scheduler.stop();
      await host.shutdown(config.shutdownGraceMs);
      await writer.close();
      await commitThread.close();
      await trainer.close();
      await metricsServer.close();
      db.close();
      logger.info("RetrainService stopped");
    })();
    return closing;
  };

  return {
    port,
    metricsPort: metricsServer.port,
    scheduler,
    broadcaster,
    registry,
    events,
    close,
  };
}

/** Temporary artifact folders are writes a crash interrupted; they never become versions. */
function removeTemporaryArtifacts(modelPath: string, logger: Logger): void {
  mkdirSync(modelPath, { recursive: true });
  for (const name of readdirSync(modelPath)) {
    if (!isTemporaryArtifactName(name)) continue;
    logger.warn({ folder: name }, "removing a half-written artifact folder left by an interrupted run");
    rmSync(path.join(modelPath, name), { recursive: true, force: true });
  }
}
