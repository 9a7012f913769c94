import { randomUUID } from "node:crypto";
import { status, type ServerWritableStream, type UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Logger } from "pino";
import {
  ModelVersionEventKind,
  RetrainState,
  type GetModelArtifactRequest,
  type GetModelArtifactResponse,
  type GetRetrainStatusRequest,
  type GetRetrainStatusResponse,
  type ListModelVersionsRequest,
  type ListModelVersionsResponse,
  type RetrainServiceServer,
  RetrainServiceService,
  type RollbackModelRequest,
  type RollbackModelResponse,
  type SubmitFeedbackRequest,
  type SubmitFeedbackResponse,
  type TriggerRetrainRequest,
  type TriggerRetrainResponse,
  type WatchModelVersionsRequest,
  type WatchModelVersionsResponse,
} from "../gen/liver/v1/retrain_service.js";
import { CallGate } from "../shared/auth/call-gate.js";
import type { Caller } from "../shared/auth/caller.js";
import type { CallerAuthenticator } from "../shared/auth/caller-authenticator.js";
import { FEATURE_COUNT, LABEL } from "../shared/features/feature-schema.js";
import { FeedbackTokenError } from "../shared/feedback/feedback-token-error.js";
import type { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import type { PredictionRecord } from "../shared/feedback/prediction-record.js";
import { DEFAULT_SITE } from "../shared/sites/site-name.js";
import type { SiteResolver } from "../shared/sites/site-resolver.js";
import { grpcError, invalidArgument, type GrpcStatusError } from "../shared/grpc/grpc-errors.js";
import type { AdminAuth, AdminIdentity } from "./admin-auth.js";
import type { FeedbackAttribution, FeedbackOrigin } from "./feedback-attribution.js";
import { feedbackOutcome } from "./feedback-outcome.js";
import { feedbackPrincipalRefusal } from "./feedback-principal.js";
import type { FeedbackReview } from "./feedback-review.js";
import type { ModelApproval } from "./model-approval.js";
import { acceptAllScreen, type FeedbackScreen } from "./feedback-screen.js";
import { FeedbackWriterClosedError, type FeedbackWriter } from "./feedback-writer.js";
import {
  checkFeedbackToken,
  checkReason,
  checkVerdict,
  checkVersionName,
  isViolation,
} from "./request-validation.js";
import type { RetrainMetrics } from "./retrain-metrics.js";
import { invalidRequest, rpcFailure, RpcFailure } from "../shared/grpc/rpc-failure.js";
import { type AccessTable, type RpcHandlers, withMiddleware } from "../shared/grpc/rpc-middleware.js";
import { toModelMetrics, toModelVersion, toRetrainRun } from "./retrain-messages.js";
import type { RetrainRunner } from "./retrain-runner.js";
import type { RetrainScheduler, SchedulerState } from "./retrain-scheduler.js";
import type { SourceRateLimiter } from "./source-rate-limiter.js";
import type {
  NewFeedbackState,
  StoredFeedbackOutcome,
  StoredVerdict,
  VerdictCounts,
} from "./store/feedback-store.js";
import type { ModelRegistry, ModelVersionRecord } from "./store/model-registry.js";
import { registryDecision } from "./registry-decision.js";
import type { RunLog } from "./store/run-log.js";
import type { OriginalDatasetInfo } from "./store/sample-store.js";
import type { ServingSnapshot, VersionBroadcaster } from "./version-broadcaster.js";
import { servingChangedByAdmin } from "./retrain-tracing.js";
import type { SiteCalibrationDrift } from "./site-calibration-drift.js";
import type { VersionVerdicts } from "./version-verdicts.js";
import { WatchStreamQuota } from "./watch-stream-quota.js";

/** Reads a stored version's files for GetModelArtifact. */
export interface ArtifactSource {
  /** The version's files and manifest hash; rejects when the folder is missing or damaged. */
  read(modelVersion: string): Promise<GetModelArtifactResponse>;
}

/** The handler's collaborators, all owned by the server that wires them. */
export interface RetrainServiceDeps {
  readonly signer: FeedbackTokenSigner;
  readonly writer: FeedbackWriter;
  readonly scheduler: RetrainScheduler;
  readonly runner: RetrainRunner;
  readonly registry: ModelRegistry;
  readonly runLog: RunLog;
  readonly original: () => OriginalDatasetInfo | undefined;
  /** GetRetrainStatus.original_data_notice: how the data found at start differs; "" when it matches. */
  readonly originalDataNotice?: () => string;
  /** Feedback counts by verdict, kept current by this handler after each commit. */
  readonly counts: VerdictCounts;
  readonly broadcaster: VersionBroadcaster;
  readonly artifacts: ArtifactSource;
  readonly adminAuth: AdminAuth;
  /** Checks SubmitFeedback callers' access tokens; undefined when authentication is off. */
  readonly callers?: CallerAuthenticator | undefined;
  readonly metrics: RetrainMetrics;
  readonly logger: Logger;
  /** Called after a rollback changed the serving version. */
  readonly onServingChanged: (record: ModelVersionRecord) => void;
  /** Who sent a feedback: peer, gateway-forwarded client address, source. */
  readonly attribution: FeedbackAttribution;
  /** Labelled feedback per source per hour. */
  readonly sourceLimiter: SourceRateLimiter;
  /** The operator review RPCs. */
  readonly review: FeedbackReview;
  /** Decides whether a labelled feedback trains or is quarantined; default: all train. */
  readonly screen?: FeedbackScreen;
  /** Verdict tallies per version, kept current by this handler; omitted: none reported. */
  readonly verdicts?: VersionVerdicts;
  /** Each site's observed / expected on the serving version; omitted: none reported. */
  readonly drift?: SiteCalibrationDrift;
  /** ApproveModelVersion and RejectModelVersion. */
  readonly approval: ModelApproval;
  /**
   * The feedback id already stored for a prediction (issue time and id), if any: asked only
   * when a source is at its limit, so a repeat is still answered as a duplicate.
   */
  readonly storedFeedback?: (issuedAtMs: number, predictionId: string) => StoredFeedbackOutcome | undefined;
  /** Decides the submitting call's site; omitted: every call is the default site's. */
  readonly sites?: SiteResolver;
  /** Bounds open WatchModelVersions streams per client and in all; omitted: the defaults. */
  readonly watchQuota?: WatchStreamQuota;
}

const STATE: Record<SchedulerState, RetrainState> = {
  idle: RetrainState.RETRAIN_STATE_IDLE,
  scheduled: RetrainState.RETRAIN_STATE_SCHEDULED,
  running: RetrainState.RETRAIN_STATE_RUNNING,
};

/**
 * What each RetrainService method asks of its caller (rpc-middleware.ts enforces it): the
 * reads Predict replicas and the page use are open, feedback needs a clinician, and every
 * operator action needs an admin (AdminAuth: an admin's JWT or the break-glass ADMIN_TOKEN).
 */
export const RETRAIN_ACCESS: AccessTable<RetrainServiceServer> = {
  submitFeedback: "clinician",
  getRetrainStatus: "open",
  watchModelVersions: "open",
  getModelArtifact: "open",
  listModelVersions: "open",
  triggerRetrain: "admin",
  rollbackModel: "admin",
  listFeedback: "admin",
  excludeFeedback: "admin",
  releaseFeedback: "admin",
  listFeedbackAudit: "admin",
  approveModelVersion: "admin",
  rejectModelVersion: "admin",
};

/** The serving version as the version stream announces it. */
export function servingSnapshot(record: ModelVersionRecord): ServingSnapshot {
  return {
    modelVersion: record.modelVersion,
    sha256: record.sha256,
    metrics: toModelMetrics(record.metrics, {
      scheme: record.holdoutScheme,
      fingerprint: record.holdoutFingerprint,
    }),
    synthetic: record.synthetic,
  };
}

/**
 * liver.v1.RetrainService: feedback intake, retrain status, the version stream, artifacts,
 * the registry and the admin RPCs. Validation happens here; state lives in the store,
 * the scheduler and the broadcaster this class is given.
 */
export class RetrainService {
  private readonly watchQuota: WatchStreamQuota;

  constructor(private readonly deps: RetrainServiceDeps) {
    this.watchQuota = deps.watchQuota ?? new WatchStreamQuota();
  }

  /** The grpc-js implementation of RetrainServiceService, behind the middleware. */
  implementation(): UntypedServiceImplementation {
    const { review, approval, attribution, sites } = this.deps;
    const handlers: RpcHandlers<RetrainServiceServer> = {
      submitFeedback: (request, { call, caller, principal }) => {
        const origin = attribution.origin(call.getPeer(), call.metadata, principal);
        const site = sites?.resolve(call.getPeer(), call.metadata, caller) ?? DEFAULT_SITE;
        return this.submitFeedback(request, origin, caller, site);
      },
      getRetrainStatus: (request) => this.getRetrainStatus(request),
      watchModelVersions: (call) => this.watchModelVersions(call),
      getModelArtifact: (request) => this.getModelArtifact(request),
      listModelVersions: (request) => this.listModelVersions(request),
      triggerRetrain: (request, admin) => this.triggerRetrain(request, admin),
      rollbackModel: (request, admin) => this.rollbackModel(request, admin),
      listFeedback: (request) => review.listFeedback(request),
      excludeFeedback: (request, admin) => review.excludeFeedback(request, admin.principal),
      releaseFeedback: (request, admin) => review.releaseFeedback(request, admin.principal),
      listFeedbackAudit: (request) => review.listFeedbackAudit(request),
      approveModelVersion: (request, admin) => approval.approve(request, admin),
      rejectModelVersion: (request, admin) => approval.reject(request, admin),
    };
    const gate = new CallGate(this.deps.callers, this.deps.adminAuth);
    return withMiddleware(RetrainServiceService, RETRAIN_ACCESS, handlers, {
      gate,
      metrics: this.deps.metrics.rpc,
      logger: this.deps.logger,
    });
  }

  /**
   * Verifies the token and that its principal is the caller's, checks the source's hourly
   * limit (labelled verdicts only), screens the row, stores it with its origin (group commit)
   * and schedules a retrain when it trains. `caller` is the verified sender, undefined when
   * authentication is off.
   */
  async submitFeedback(
    request: SubmitFeedbackRequest,
    origin: FeedbackOrigin,
    caller?: Caller,
    site: string = DEFAULT_SITE,
  ): Promise<SubmitFeedbackResponse> {
    const violations = checkFeedbackToken(request.feedbackToken);
    const verdict = checkVerdict(request.verdict);
    if (isViolation(verdict)) violations.push(verdict);
    if (violations.length > 0 || isViolation(verdict)) throw invalidRequest(violations);
    const prediction = this.verifyToken(request.feedbackToken);
    const refusal = feedbackPrincipalRefusal(prediction, caller);
    if (refusal !== undefined) throw refusal;
    // Feedback counts only for the site whose calibration answered: another site's caller
    // cannot move this site's calibration with tokens it obtained.
    const tokenSite = prediction.site ?? DEFAULT_SITE;
    if (tokenSite !== site) {
      throw rpcFailure(
        status.PERMISSION_DENIED,
        `feedback_token was issued for site ${tokenSite}, and this call comes from site ${site}; feedback is accepted only from the site its prediction was made for`,
      );
    }
    const label = labelFor(verdict, prediction);
    // Don't-know verdicts never train, so they are not limited. Idempotency wins over the
    // limit: a resubmitted token (its acknowledgement lost) learns that it is stored.
    let grant: { release(): void } | undefined;
    if (label !== null) {
      const slot = this.takeSourceSlot(origin.source);
      if ("refusal" in slot) {
        const stored = this.deps.storedFeedback?.(prediction.issuedAtMs, prediction.predictionId);
        if (stored === undefined) {
          this.deps.metrics.feedbackSourceLimited();
          throw slot.refusal;
        }
        this.deps.metrics.feedbackDuplicate();
        return {
          feedbackId: stored.feedbackId,
          retrainScheduled: false,
          duplicate: true,
          modelVersion: prediction.modelVersion,
          ...feedbackOutcome(stored.state, stored.stateReason),
        };
      }
      grant = slot;
    }
    let state: NewFeedbackState = "unlabelled";
    let stateReason = "";
    if (label !== null) {
      try {
        const screened = (this.deps.screen ?? acceptAllScreen).screen({
          features: prediction.features,
          label,
          probability: prediction.probability,
          modelVersion: prediction.modelVersion,
        });
        state = screened.state;
        stateReason = screened.state === "quarantined" ? screened.reason : "";
      } catch (error) {
        grant?.release();
        throw error;
      }
    }
    let outcome;
    try {
      outcome = await this.deps.writer.submit({
        feedbackId: randomUUID(),
        predictionId: prediction.predictionId,
        verdict,
        label,
        features: prediction.features,
        predictedDiagnosis: prediction.diagnosis,
        probability: prediction.probability,
        modelVersion: prediction.modelVersion,
        issuedAtMs: prediction.issuedAtMs,
        receivedAtMs: Date.now(),
        ...origin,
        site: tokenSite,
        state,
        stateReason,
      });
    } catch (error) {
      grant?.release();
      if (error instanceof FeedbackWriterClosedError) throw rpcFailure(status.UNAVAILABLE, error.message);
      this.deps.logger.error({ err: error }, "feedback commit failed");
      throw rpcFailure(
        status.UNAVAILABLE,
        `the feedback could not be stored (${errorMessage(error)}); it was not acknowledged, retry`,
      );
    }
    if (!outcome.stored) {
      grant?.release();
      this.deps.metrics.feedbackDuplicate();
      return {
        feedbackId: outcome.feedbackId,
        retrainScheduled: false,
        duplicate: true,
        modelVersion: prediction.modelVersion,
        ...feedbackOutcome(outcome.state, outcome.stateReason),
      };
    }
    countVerdict(this.deps.counts, verdict);
    this.deps.verdicts?.add(prediction.modelVersion, verdict);
    if (label !== null)
      this.deps.drift?.record(prediction.modelVersion, tokenSite, label, prediction.probability);
    this.deps.metrics.feedbackStored(verdict);
    if (state === "quarantined") this.deps.metrics.feedbackQuarantined();
    const retrainScheduled = state === "trained" && this.deps.scheduler.recordLabelledFeedback(outcome.seq);
    return {
      feedbackId: outcome.feedbackId,
      retrainScheduled,
      duplicate: false,
      modelVersion: prediction.modelVersion,
      ...feedbackOutcome(state, stateReason),
    };
  }

  /** The scheduler's state, the running job's progress and the registry's summary. */
  getRetrainStatus(_request: GetRetrainStatusRequest): GetRetrainStatusResponse {
    const { scheduler, runner, runLog, counts } = this.deps;
    const state = scheduler.state;
    const lastRun = runLog.lastFinished();
    const original = this.deps.original();
    return {
      state: STATE[state],
      progress: state === "running" ? runner.progress() : undefined,
      pendingLabelledFeedback: scheduler.pendingLabelled,
      modelVersion: this.deps.broadcaster.current?.modelVersion ?? "",
      counts: { ...counts },
      lastRun: lastRun === undefined ? undefined : toRetrainRun(lastRun),
      originalRows: original?.rows ?? 0,
      syntheticData: original?.source === "synthetic",
      verdictsByVersion: this.deps.verdicts?.messages() ?? [],
      originalDataNotice: this.deps.originalDataNotice?.() ?? "",
      calibrationDrift: this.deps.drift?.messages(this.deps.broadcaster.current?.modelVersion ?? "") ?? [],
    };
  }

  /** Streams CURRENT first, then promotions, rollbacks and heartbeats, until the call ends. */
  watchModelVersions(
    call: ServerWritableStream<WatchModelVersionsRequest, WatchModelVersionsResponse>,
  ): void {
    const end = (error: GrpcStatusError): void => {
      call.emit("error", error);
    };
    const { afterVersion } = call.request;
    const violations = checkVersionName("after_version", afterVersion, false);
    if (violations.length > 0) {
      end(invalidArgument(violations));
      return;
    }
    if (afterVersion !== "" && this.deps.registry.get(afterVersion) === undefined) {
      end(
        grpcError(
          status.NOT_FOUND,
          `after_version ${afterVersion} is not a version of this registry; reconnect with an empty after_version`,
        ),
      );
      return;
    }
    const origin = this.deps.attribution.origin(call.getPeer(), call.metadata);
    const grant = this.watchQuota.acquire(origin.source, origin.clientAddress !== "");
    if (typeof grant === "string") {
      end(grpcError(status.RESOURCE_EXHAUSTED, grant));
      return;
    }
    const subscription = this.deps.broadcaster.subscribe({
      send: (event) => call.write(event),
      onDrain: (listener) => call.once("drain", listener),
      close: (reason) => {
        end(grpcError(status.UNAVAILABLE, reason));
      },
    });
    if (subscription === undefined) {
      grant.release();
      end(
        grpcError(
          status.UNAVAILABLE,
          this.deps.broadcaster.current === undefined
            ? "no model version serves yet: the first version is still training; retry shortly"
            : "the RetrainService is shutting down; reconnect with after_version set to the last version seen",
        ),
      );
      return;
    }
    const release = (): void => {
      subscription.unsubscribe();
      grant.release();
    };
    call.once("cancelled", release);
    call.once("close", release);
    call.once("finish", release);
  }

  /** Every file of a registered version, verified against the sha256 the registry recorded. */
  getModelArtifact(request: GetModelArtifactRequest): Promise<GetModelArtifactResponse> {
    const violations = checkVersionName("model_version", request.modelVersion, true);
    if (violations.length > 0) throw invalidRequest(violations);
    if (this.deps.registry.get(request.modelVersion) === undefined) {
      throw rpcFailure(
        status.NOT_FOUND,
        `model_version ${request.modelVersion} is not in the registry; ListModelVersions shows the stored versions`,
      );
    }
    // A registered artifact that cannot be read is a fault of this server: the middleware
    // logs the error and answers INTERNAL with an id, never the file system's text.
    return this.deps.artifacts.read(request.modelVersion);
  }

  /** The registry, newest first. */
  listModelVersions(_request: ListModelVersionsRequest): ListModelVersionsResponse {
    const versions = this.deps.registry.list();
    return {
      versions: versions.map(toModelVersion),
      modelVersion: versions.find((v) => v.status === "serving")?.modelVersion ?? "",
    };
  }

  /** Admin (admitted by the middleware; `admin` is who): queues a run regardless of the minimum batch. */
  triggerRetrain(request: TriggerRetrainRequest, admin: AdminIdentity): TriggerRetrainResponse {
    const violations = checkReason(request.reason);
    if (violations.length > 0) throw invalidRequest(violations);
    const scheduled = this.deps.scheduler.request("admin", request.reason);
    this.deps.logger.info(
      { audit: "TriggerRetrain", principal: admin.principal, reason: request.reason, scheduled },
      `admin ${admin.principal} requested a retrain`,
    );
    return { scheduled };
  }

  /** Admin (admitted by the middleware; `admin` is who): serves an earlier gate-passing version again and tells subscribers. */
  async rollbackModel(request: RollbackModelRequest, admin: AdminIdentity): Promise<RollbackModelResponse> {
    const violations = [
      ...checkVersionName("model_version", request.modelVersion, true),
      ...checkReason(request.reason),
    ];
    if (violations.length > 0) throw invalidRequest(violations);
    const target = this.deps.registry.get(request.modelVersion);
    if (target === undefined) {
      throw rpcFailure(
        status.NOT_FOUND,
        `model_version ${request.modelVersion} is not in the registry; ListModelVersions shows the stored versions`,
      );
    }
    if (target.status !== "rejected") {
      // Never serve a version whose files are gone: check before switching.
      try {
        await this.deps.artifacts.read(request.modelVersion);
      } catch (error) {
        throw rpcFailure(
          status.FAILED_PRECONDITION,
          `model_version ${request.modelVersion} cannot serve: its artifact is unreadable (${errorMessage(error)})`,
        );
      }
    }
    const reason =
      request.reason === "" ? `rolled back by an admin` : `rolled back by an admin: ${request.reason}`;
    const result = registryDecision(() => this.deps.registry.rollback(request.modelVersion, reason));
    const previousVersion = result.previous?.modelVersion ?? "";
    if (previousVersion !== result.current.modelVersion) {
      this.deps.broadcaster.publish(ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_ROLLED_BACK, {
        ...servingSnapshot(result.current),
        traceparent: servingChangedByAdmin("rollback", result.current, previousVersion),
      });
      this.deps.onServingChanged(result.current);
      this.deps.logger.warn(
        {
          audit: "RollbackModel",
          principal: admin.principal,
          modelVersion: result.current.modelVersion,
          previousVersion,
          reason,
        },
        `admin ${admin.principal} rolled back to ${result.current.modelVersion}`,
      );
    }
    return { modelVersion: result.current.modelVersion, previousVersion };
  }

  private verifyToken(token: string): PredictionRecord {
    let record: PredictionRecord;
    try {
      record = this.deps.signer.verify(token);
    } catch (error) {
      if (error instanceof FeedbackTokenError) {
        const code =
          error.problem === "malformed"
            ? status.INVALID_ARGUMENT
            : error.problem === "bad-signature"
              ? status.PERMISSION_DENIED
              : status.FAILED_PRECONDITION;
        throw rpcFailure(code, error.message);
      }
      throw error;
    }
    if (record.features.length !== FEATURE_COUNT || !record.features.every(Number.isFinite)) {
      throw rpcFailure(
        status.INVALID_ARGUMENT,
        `feedback_token carries ${record.features.length} feature values, not ${FEATURE_COUNT} finite ones; pass the token of a PredictResponse unchanged`,
      );
    }
    return record;
  }

  /** A slot of the source's hourly budget, or the RESOURCE_EXHAUSTED saying when to retry. */
  private takeSourceSlot(source: string): { release(): void } | { refusal: RpcFailure } {
    const decision = this.deps.sourceLimiter.take(source);
    if (decision.allowed) return decision.grant;
    const seconds = Math.ceil(decision.retryAfterMs / 1000);
    const refusal = grpcError(
      status.RESOURCE_EXHAUSTED,
      `source ${source} sent ${this.deps.sourceLimiter.limit} labelled feedbacks within the last hour, the most one source may; retry in ${seconds} s`,
    );
    refusal.metadata?.set("retry-after", String(seconds));
    return { refusal: new RpcFailure(refusal) };
  }
}

/**
 * CORRECT labels the row as the model predicted, WRONG flips it, UNKNOWN stores no label
 * (it never trains), as in the original system.
 */
export function labelFor(verdict: StoredVerdict, prediction: PredictionRecord): 0 | 1 | null {
  if (verdict === 3) return null;
  let predicted: 0 | 1;
  if (prediction.diagnosis === 1) predicted = LABEL.liverDisease;
  else if (prediction.diagnosis === 2) predicted = LABEL.noLiverDisease;
  else {
    throw rpcFailure(
      status.INVALID_ARGUMENT,
      `feedback_token carries diagnosis ${prediction.diagnosis}, which cannot be labelled; expected DIAGNOSIS_LIVER_DISEASE (1) or DIAGNOSIS_NO_LIVER_DISEASE (2)`,
    );
  }
  if (verdict === 1) return predicted;
  return predicted === LABEL.liverDisease ? LABEL.noLiverDisease : LABEL.liverDisease;
}

function countVerdict(counts: VerdictCounts, verdict: StoredVerdict): void {
  if (verdict === 1) counts.correct++;
  else if (verdict === 2) counts.wrong++;
  else counts.unknown++;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
