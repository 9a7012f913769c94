import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import { ModelVersionEventKind } from "../gen/liver/v1/retrain_service.js";
import { logAuthMode } from "../shared/auth/auth-log.js";
import { CallerAuthenticator } from "../shared/auth/caller-authenticator.js";
import { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import { SiteResolver } from "../shared/sites/site-resolver.js";
import { AdminAuth } from "./admin-auth.js";
import { DiskArtifactSource } from "./artifact-source.js";
import type { CandidateTrainer } from "./candidate-trainer.js";
import { FeedbackAttribution } from "./feedback-attribution.js";
import { FeedbackCommitThread } from "./feedback-commit-thread.js";
import { FeedbackReview } from "./feedback-review.js";
import { acceptAllScreen, type FeedbackScreen } from "./feedback-screen.js";
import { FeedbackWriter } from "./feedback-writer.js";
import { ModelApproval } from "./model-approval.js";
import { PlausibilityScreen } from "./plausibility-screen.js";
import type { RetrainConfig } from "./retrain-config.js";
import { RetrainMetrics } from "./retrain-metrics.js";
import { RetrainRunner } from "./retrain-runner.js";
import { RetrainScheduler } from "./retrain-scheduler.js";
import { RetrainService, servingSnapshot } from "./retrain-service.js";
import { RetrainTracing, tracedTrainer } from "./retrain-tracing.js";
import { SiteCalibrationDrift } from "./site-calibration-drift.js";
import { SOURCE_WINDOW_MS, SourceRateLimiter } from "./source-rate-limiter.js";
import { FeedbackReviewStore } from "./store/feedback-review-store.js";
import { FeedbackStore } from "./store/feedback-store.js";
import { ModelRegistry, type ModelVersionRecord } from "./store/model-registry.js";
import { RunLog, type RunOutcome } from "./store/run-log.js";
import { SampleStore } from "./store/sample-store.js";
import type { StoreDatabase } from "./store/sqlite-store.js";
import { WorkerTrainer } from "./training-worker.js";
import { VersionBroadcaster } from "./version-broadcaster.js";
import { VersionVerdicts } from "./version-verdicts.js";
import { WatchStreamQuota } from "./watch-stream-quota.js";

/** The tables of one store, each behind its own class. */
export interface RetrainStores {
  readonly db: StoreDatabase;
  readonly feedback: FeedbackStore;
  readonly samples: SampleStore;
  readonly registry: ModelRegistry;
  readonly runLog: RunLog;
}

/** Opens the store's tables (the database is already open and migrated). */
export function openStores(db: StoreDatabase): RetrainStores {
  return {
    db,
    feedback: new FeedbackStore(db),
    samples: new SampleStore(db),
    registry: new ModelRegistry(db),
    runLog: new RunLog(db),
  };
}

/** Events of a running server, for tests and benchmarks. */
export interface RetrainServerEvents {
  "run-finished": [outcome: RunOutcome, record: ModelVersionRecord | undefined];
}

/** What buildRetrainComponents needs. */
export interface RetrainComponentsInput {
  readonly config: RetrainConfig;
  readonly logger: Logger;
  readonly stores: RetrainStores;
  /** The store's file; the commit thread opens its own connection to it. */
  readonly storeFile: string;
  /** GetRetrainStatus.original_data_notice (importOrReconcileOriginalData). */
  readonly originalDataNotice: string;
  /** A substitute trainer (tests); default the worker thread. */
  readonly trainer?: CandidateTrainer;
  /** A substitute feedback screen (tests); default from FEEDBACK_SCREENING. */
  readonly screen?: FeedbackScreen;
  readonly defaultMetrics?: boolean;
  readonly now?: () => number;
  /** A version began to serve: the gRPC server's health turns SERVING. */
  readonly onServing: () => void;
}

/** The running parts of the RetrainService, wired to each other but not yet serving. */
export interface RetrainComponents {
  readonly service: RetrainService;
  readonly metrics: RetrainMetrics;
  readonly events: EventEmitter<RetrainServerEvents>;
  readonly broadcaster: VersionBroadcaster;
  readonly commitThread: FeedbackCommitThread;
  readonly writer: FeedbackWriter;
  readonly trainer: CandidateTrainer;
  readonly runner: RetrainRunner;
  readonly scheduler: RetrainScheduler;
  readonly reviewStore: FeedbackReviewStore;
  /** Labelled feedback no finished run covered at start. */
  readonly pendingLabelled: number;
  /** Feedback counts at start, for the start-up log line. */
  readonly counts: ReturnType<FeedbackStore["counts"]>;
}

/**
 * Builds every collaborator of the RetrainService and connects them: the commit thread and
 * writer for feedback, the runner and scheduler for retrains (traced), the broadcaster for
 * the version stream, metrics, admin and caller authentication, and the service's handlers.
 * Starts the commit thread (the only part with a thread of its own until a run starts).
 */
export async function buildRetrainComponents(input: RetrainComponentsInput): Promise<RetrainComponents> {
  const { config, logger, stores } = input;
  const { db, feedback, samples, registry, runLog } = stores;
  const metrics = new RetrainMetrics({ defaultMetrics: input.defaultMetrics ?? true });
  const events = new EventEmitter<RetrainServerEvents>();
  const broadcaster = new VersionBroadcaster({
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    onLagging: (stats) =>
      logger.warn(stats, "a version-stream subscriber is not reading; it gets only the latest event"),
  });
  const commitThread = new FeedbackCommitThread(input.storeFile, logger);
  await commitThread.start();
  const writer = new FeedbackWriter(commitThread, {
    onBatch: (size, durationMs) => metrics.committed(size, durationMs),
  });
  // Spans linking verdicts, runs, promotions and replicas' swaps (no-ops while tracing is off).
  const tracing = new RetrainTracing();
  const trainer = tracedTrainer(input.trainer ?? WorkerTrainer.forConfig(config, logger));
  const servingChanged = (record: ModelVersionRecord): void => {
    metrics.serving(record.modelVersion);
    input.onServing();
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
  const pendingLabelled = feedback.labelledCountBetween(runLog.coveredFeedbackSeq());
  const scheduler = new RetrainScheduler({
    debounceMs: config.debounceMs,
    minBatch: config.minBatch,
    initialPending: pendingLabelled,
    startRun: (trigger, reason) => tracing.traceRun(trigger, reason, () => runner.start(trigger, reason)),
    onLabelledFeedback: (seq) => tracing.verdictCommitted(seq),
    onStateChange: (state) => logger.debug({ state }, `retrainer ${state}`),
  });
  const counts = feedback.counts();
  const now = input.now ?? Date.now;
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
  const originalDataNotice = input.originalDataNotice;
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
    watchQuota: new WatchStreamQuota(config.watchStreamsPerClient, config.watchStreamsTotal),
    sourceLimiter,
    review: new FeedbackReview({
      store: reviewStore,
      scheduler,
      logger,
      onChanged: () => drift.invalidate(),
    }),
    screen:
      input.screen ??
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
  return {
    service,
    metrics,
    events,
    broadcaster,
    commitThread,
    writer,
    trainer,
    runner,
    scheduler,
    reviewStore,
    pendingLabelled,
    counts,
  };
}
