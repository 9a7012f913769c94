/**
 * Store records to liver.v1 messages, in one place so every RPC and the version stream
 * describe a version, its metrics and a run the same way.
 */
import {
  ModelVersionStatus,
  type ApprovalReview,
  type ModelMetrics,
  type ModelVersion,
} from "../gen/liver/v1/model.js";
import { RetrainOutcome, type RetrainRun } from "../gen/liver/v1/retrain_service.js";
import {
  approvalDecisionKind,
  gateRuleKind,
  holdoutSchemeKind,
  retrainTriggerKind,
  siteCalibrationMethodKind,
} from "../shared/grpc/contract-vocabulary.js";
import { type BinaryMetrics, calibrationMessage } from "../shared/model/metrics.js";
import type { ModelVersionRecord, VersionStatus } from "./store/model-registry.js";
import type { RunOutcome, RunRecord } from "./store/run-log.js";
import { changeShare, exceeds } from "./served-change.js";

/** Holdout metrics as liver.v1.ModelMetrics. */
export function toModelMetrics(
  metrics: BinaryMetrics,
  holdout: { readonly scheme: string; readonly fingerprint: string },
): ModelMetrics {
  return {
    rocAuc: metrics.rocAuc,
    accuracy: metrics.accuracy,
    logLoss: metrics.logLoss,
    brierScore: metrics.brier,
    threshold: metrics.threshold,
    confusionMatrix: {
      truePositives: metrics.confusion.truePositives,
      falsePositives: metrics.confusion.falsePositives,
      trueNegatives: metrics.confusion.trueNegatives,
      falseNegatives: metrics.confusion.falseNegatives,
    },
    holdoutRows: metrics.rows,
    holdoutScheme: holdout.scheme,
    holdoutSchemeKind: holdoutSchemeKind(holdout.scheme),
    holdoutFingerprint: holdout.fingerprint,
    calibration: calibrationMessage(metrics.calibration),
  };
}

const STATUS: Record<VersionStatus, ModelVersionStatus> = {
  serving: ModelVersionStatus.MODEL_VERSION_STATUS_SERVING,
  retired: ModelVersionStatus.MODEL_VERSION_STATUS_RETIRED,
  rejected: ModelVersionStatus.MODEL_VERSION_STATUS_REJECTED,
  pending: ModelVersionStatus.MODEL_VERSION_STATUS_PENDING_APPROVAL,
};

/** A registry entry as liver.v1.ModelVersion. */
export function toModelVersion(record: ModelVersionRecord): ModelVersion {
  return {
    modelVersion: record.modelVersion,
    status: STATUS[record.status],
    metrics: toModelMetrics(record.metrics, {
      scheme: record.holdoutScheme,
      fingerprint: record.holdoutFingerprint,
    }),
    rowCounts: {
      originalRows: record.originalRows,
      feedbackRows: record.feedbackRows,
      holdoutRows: record.holdoutRows,
    },
    parentVersion: record.parentVersion ?? "",
    reason: record.reason,
    createdAt: new Date(record.createdAtMs),
    promotedAt: record.promotedAtMs === undefined ? undefined : new Date(record.promotedAtMs),
    sha256: record.sha256,
    trainedOnSyntheticData: record.synthetic,
    gateChecks: record.gateChecks.map((c) => ({
      rule: c.rule,
      ruleKind: gateRuleKind(c.rule),
      passed: c.passed,
      detail: c.detail,
    })),
    calibration:
      record.calibration === undefined
        ? undefined
        : {
            applied: record.calibration.applied,
            slope: record.calibration.slope,
            intercept: record.calibration.intercept,
            reason: record.calibration.reason,
            fitRows: record.calibration.fitRows,
            checkRows: record.calibration.checkRows,
          },
    siteCalibrations: (record.siteCalibrations?.sites ?? []).map((site) => ({
      site: site.site,
      method: site.method,
      methodKind: siteCalibrationMethodKind(site.method),
      intercept: site.intercept,
      interceptLow: site.interceptInterval.low,
      interceptHigh: site.interceptInterval.high,
      slope: site.slope,
      slopeLow: site.slopeInterval.low,
      slopeHigh: site.slopeInterval.high,
      rows: site.rows,
      events: site.events,
      sources: site.sources,
      checkLogLossBefore: site.checkLogLossBefore,
      checkLogLossAfter: site.checkLogLossAfter,
      observedExpected: site.observedExpected,
      observedExpectedLow: site.observedExpectedInterval.low,
      observedExpectedHigh: site.observedExpectedInterval.high,
      reason: site.reason,
    })),
    approval: toApprovalReview(record),
  };
}

/** A version's served-answer comparison, feedback summary and decision as liver.v1.ApprovalReview. */
export function toApprovalReview(record: ModelVersionRecord): ApprovalReview | undefined {
  const evidence = record.approval;
  if (evidence === undefined) return undefined;
  const feedback = evidence.feedback;
  return {
    approvedVersion: evidence.approvedVersion ?? "",
    maxClassChange: evidence.maxClassChange,
    required: evidence.required,
    changes: evidence.changes.map((c) => ({
      site: c.site,
      slice: c.slice,
      rows: c.rows,
      changed: c.changed,
      share: changeShare(c),
      judged: c.judged,
      exceeds: exceeds(c, evidence.maxClassChange),
    })),
    feedback: {
      rows: feedback.rows,
      sources: feedback.sources.map((s) => ({ source: s.source, rows: s.rows })),
      sourceCount: feedback.sourceCount,
      principals: [...feedback.principals],
      principalCount: feedback.principalCount,
      firstReceivedAt:
        feedback.firstReceivedAtMs === undefined ? undefined : new Date(feedback.firstReceivedAtMs),
      lastReceivedAt:
        feedback.lastReceivedAtMs === undefined ? undefined : new Date(feedback.lastReceivedAtMs),
    },
    decision: record.decision?.decision ?? "",
    decisionKind: approvalDecisionKind(record.decision?.decision ?? ""),
    decidedBy: record.decision?.by ?? "",
    decisionReason: record.decision?.reason ?? "",
    decidedAt: record.decision === undefined ? undefined : new Date(record.decision.atMs),
  };
}

const OUTCOME: Record<RunOutcome, RetrainOutcome> = {
  promoted: RetrainOutcome.RETRAIN_OUTCOME_PROMOTED,
  rejected: RetrainOutcome.RETRAIN_OUTCOME_REJECTED,
  failed: RetrainOutcome.RETRAIN_OUTCOME_FAILED,
  pending: RetrainOutcome.RETRAIN_OUTCOME_PENDING_APPROVAL,
};

/** A run as liver.v1.RetrainRun. */
export function toRetrainRun(run: RunRecord): RetrainRun {
  return {
    runId: run.runId,
    trigger: run.trigger,
    triggerKind: retrainTriggerKind(run.trigger),
    startedAt: new Date(run.startedAtMs),
    finishedAt: run.finishedAtMs === undefined ? undefined : new Date(run.finishedAtMs),
    outcome: run.outcome === undefined ? RetrainOutcome.RETRAIN_OUTCOME_UNSPECIFIED : OUTCOME[run.outcome],
    modelVersion: run.modelVersion ?? "",
    error: run.error,
    feedbackRows: run.feedbackRows,
  };
}
