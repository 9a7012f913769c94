import { retrainStageKind } from "../shared/grpc/contract-vocabulary.js";
import { randomUUID } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import type { RetrainProgress } from "../gen/liver/v1/retrain_service.js";
import type { CandidateProgress, CandidateTrainer, TrainedCandidate } from "./candidate-trainer.js";
import { decideGate, type GatePolicy } from "./quality-gate.js";
import type { RetrainMetrics } from "./retrain-metrics.js";
import type { StartedRun } from "./retrain-scheduler.js";
import { approvalReason, servedChangeChecks } from "./served-change.js";
import { summarizeFeedback, trainedFeedbackUpTo } from "./store/feedback-summary.js";
import type { FeedbackStore } from "./store/feedback-store.js";
import {
  versionName,
  type ModelRegistry,
  type ModelVersionRecord,
  type NewModelVersion,
} from "./store/model-registry.js";
import type { RunLog, RunOutcome, RunTrigger } from "./store/run-log.js";
import type { StoreDatabase } from "./store/sqlite-store.js";

/** What the runner needs; passed in so tests can substitute the trainer. */
export interface RetrainRunnerDeps {
  readonly db: StoreDatabase;
  readonly registry: ModelRegistry;
  readonly runLog: RunLog;
  readonly feedback: FeedbackStore;
  readonly trainer: CandidateTrainer;
  readonly modelPath: string;
  readonly gatePolicy: GatePolicy;
  readonly metrics: RetrainMetrics;
  readonly logger: Logger;
  /** Called after a promotion is committed: publish the event, flip health. */
  readonly onPromoted: (record: ModelVersionRecord) => void;
  /** Called after a candidate was recorded waiting for approval: announce it, raise the metric. */
  readonly onPending?: (record: ModelVersionRecord) => void;
  /** Called after every run, whatever its outcome (for tests and benches). */
  readonly onRunFinished?: (outcome: RunOutcome, record: ModelVersionRecord | undefined) => void;
  readonly now?: () => number;
}

interface ActiveRun {
  readonly runId: string;
  readonly trigger: RunTrigger;
  readonly startedAtMs: number;
  readonly controller: AbortController;
  progress: CandidateProgress;
}

/**
 * Carries out one retrain run: snapshot the labelled feedback, record the run, train the
 * candidate (in the trainer's worker), gate it on the frozen holdout against the serving
 * version, and commit the registry row and the run's end in one transaction. Every run
 * ends recorded: promoted, rejected with the gate's reason, or failed with its error.
 */
export class RetrainRunner {
  private active: ActiveRun | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: RetrainRunnerDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The running run's progress for GetRetrainStatus; undefined while idle. */
  progress(): RetrainProgress | undefined {
    const active = this.active;
    if (active === undefined) return undefined;
    return {
      runId: active.runId,
      stage: active.progress.stage,
      stageKind: retrainStageKind(active.progress.stage),
      step: active.progress.step,
      totalSteps: Math.max(1, active.progress.totalSteps),
      loss: active.progress.loss,
      elapsedMs: Math.max(0, this.now() - active.startedAtMs),
    };
  }

  /** Starts a run; the feedback snapshot is taken before this returns (RetrainScheduler's contract). */
  start(trigger: RunTrigger, reason: string): StartedRun {
    if (this.active !== undefined) throw new Error(`retrain run ${this.active.runId} is still running`);
    const { feedback, runLog } = this.deps;
    const runId = randomUUID();
    const startedAtMs = this.now();
    const feedbackUpTo = feedback.maxLabelledSeq();
    const servingVersion = this.deps.registry.serving()?.modelVersion;
    const approvedVersion = this.deps.registry.approvedBaseline()?.modelVersion;
    const feedbackRows = feedback.labelledCountBetween(0, feedbackUpTo);
    runLog.start({ runId, trigger, reason, startedAtMs, feedbackUpTo, feedbackRows });
    const active: ActiveRun = {
      runId,
      trigger,
      startedAtMs,
      controller: new AbortController(),
      progress: { stage: "starting", step: 0, totalSteps: 1, loss: 0 },
    };
    this.active = active;
    this.deps.logger.info({ runId, trigger, reason, feedbackUpTo, feedbackRows }, "retrain run started");
    const completion = this.execute(active, feedbackUpTo, servingVersion, approvedVersion).then(
      (covered) => ({ covered }),
      () => ({ covered: false }),
    );
    return { feedbackUpTo, completion };
  }

  /** Aborts the running run (shutdown); it ends recorded as failed. */
  abort(reason: string): void {
    this.active?.controller.abort(new Error(reason));
  }

  private async execute(
    active: ActiveRun,
    feedbackUpTo: number,
    servingVersion: string | undefined,
    approvedVersion: string | undefined,
  ): Promise<boolean> {
    const { registry, logger } = this.deps;
    const seq = registry.nextSeq();
    const modelVersion = versionName(seq);
    const artifactDir = path.join(this.deps.modelPath, modelVersion);
    let outcome: RunOutcome = "failed";
    let record: ModelVersionRecord | undefined;
    try {
      removeOrphan(artifactDir, modelVersion, logger);
      const candidate = await this.deps.trainer.train(
        {
          runId: active.runId,
          modelVersion,
          artifactDir,
          feedbackUpTo,
          servingVersion,
          approvedVersion,
          minSliceRows: this.deps.gatePolicy.minSliceRows,
        },
        (progress) => {
          active.progress = progress;
        },
        active.controller.signal,
      );
      active.controller.signal.throwIfAborted();
      record = this.commit(active, seq, modelVersion, candidate, feedbackUpTo);
      outcome =
        record.status === "serving" ? "promoted" : record.status === "pending" ? "pending" : "rejected";
      logger.info(
        {
          runId: active.runId,
          modelVersion,
          outcome,
          rocAuc: record.metrics.rocAuc,
          feedbackRows: record.feedbackRows,
          reason: record.reason,
        },
        `retrain run ${outcome}: ${modelVersion}`,
      );
      if (outcome === "promoted") this.deps.onPromoted(record);
      if (outcome === "pending") this.deps.onPending?.(record);
      return true;
    } catch (error) {
      const message = errorMessage(error);
      logger.error({ runId: active.runId, modelVersion, err: error }, `retrain run failed: ${message}`);
      try {
        this.deps.runLog.finish(active.runId, {
          outcome: "failed",
          modelVersion: undefined,
          error: message,
          finishedAtMs: this.now(),
        });
      } catch (logError) {
        logger.error({ runId: active.runId, err: logError }, "could not record the failed run");
      }
      return false;
    } finally {
      this.active = undefined;
      this.deps.metrics.runFinished(outcome, active.trigger, this.now() - active.startedAtMs);
      this.deps.onRunFinished?.(outcome, record);
    }
  }

  /**
   * Gates the candidate and commits registry row and run end together. A candidate that
   * passes the gate but moves served answers too far from the last approved version is
   * recorded pending: it waits for an admin instead of serving.
   */
  private commit(
    active: ActiveRun,
    seq: number,
    modelVersion: string,
    candidate: TrainedCandidate,
    feedbackUpTo: number,
  ): ModelVersionRecord {
    const { db, registry, runLog } = this.deps;
    return db
      .transaction((): ModelVersionRecord => {
        // The trainer re-scored the version serving when the run started; an admin may have
        // rolled back meanwhile, and then the candidate is not compared with what serves now.
        const serving = registry.serving();
        const decision =
          serving?.modelVersion !== candidate.gate.serving?.modelVersion
            ? {
                promote: false,
                reason: `not gated: the serving version changed to ${serving?.modelVersion ?? "none"} during training; the next run will be`,
                checks: [],
              }
            : decideGate(
                { modelVersion, rocAuc: candidate.metrics.rocAuc },
                candidate.gate,
                this.deps.gatePolicy,
              );
        const policy = this.deps.gatePolicy;
        const served = candidate.served;
        const servedChecks = servedChangeChecks(served, policy.approvalMaxClassChange);
        // An admin may have approved another version during training: the candidate was then
        // measured against answers that are no longer the approved ones, so a person looks.
        const baseline = registry.approvedBaseline();
        const baselineMoved = baseline !== undefined && baseline.modelVersion !== served.approvedVersion;
        const needsApproval =
          decision.promote && (baselineMoved || servedChecks.some((check) => !check.passed));
        const status = !decision.promote ? "rejected" : needsApproval ? "pending" : "serving";
        const reason = !needsApproval
          ? decision.reason
          : baselineMoved
            ? `waits for approval: ${baseline.modelVersion} was approved while it trained against ${served.approvedVersion ?? "none"}; ${decision.reason}`
            : `${approvalReason(served, policy.approvalMaxClassChange)}; ${decision.reason}`;
        const baselineUpTo = baseline === undefined ? 0 : trainedFeedbackUpTo(db, baseline.runId);
        const finishedAtMs = this.now();
        const entry: NewModelVersion = {
          seq,
          modelVersion,
          metrics: candidate.metrics,
          originalRows: candidate.originalRows,
          feedbackRows: candidate.feedbackRows,
          holdoutRows: candidate.holdoutRows,
          parentVersion: serving?.modelVersion,
          reason,
          createdAtMs: finishedAtMs,
          sha256: candidate.sha256,
          synthetic: candidate.synthetic,
          runId: active.runId,
          holdoutScheme: candidate.gate.holdoutScheme,
          holdoutFingerprint: candidate.gate.holdoutFingerprint,
          gateChecks: [...decision.checks, ...servedChecks],
          calibration: candidate.calibration,
          siteCalibrations: candidate.siteCalibrations,
          approval: {
            approvedVersion: served.approvedVersion,
            maxClassChange: policy.approvalMaxClassChange,
            required: needsApproval,
            changes: served.changes,
            feedback: summarizeFeedback(db, baselineUpTo, feedbackUpTo),
          },
        };
        const record =
          status === "pending"
            ? registry.addPending(entry, finishedAtMs)
            : registry.add(entry, status === "serving", finishedAtMs);
        runLog.finish(active.runId, {
          outcome: status === "serving" ? "promoted" : status,
          modelVersion,
          error: status === "serving" ? "" : reason,
          finishedAtMs,
        });
        return record;
      })
      .immediate();
  }
}

/**
 * An artifact folder without a registry row is what a run interrupted between publishing
 * and committing leaves behind; the registry is the truth, so the folder goes.
 */
function removeOrphan(artifactDir: string, modelVersion: string, logger: Logger): void {
  if (!existsSync(artifactDir)) return;
  logger.warn(
    { artifactDir, modelVersion },
    `removing ${artifactDir}: an unregistered leftover of an interrupted run`,
  );
  rmSync(artifactDir, { recursive: true, force: true });
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
