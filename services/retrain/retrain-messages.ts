/**
 * Store records to liver.v1 messages, in one place so every RPC and the version stream
 * describe a version, its metrics and a run the same way.
 */
import { ModelVersionStatus, type ModelMetrics, type ModelVersion } from "../gen/liver/v1/model.js";
import { RetrainOutcome, type RetrainRun } from "../gen/liver/v1/retrain_service.js";
import { type BinaryMetrics, calibrationMessage } from "../shared/model/metrics.js";
import type { ModelVersionRecord, VersionStatus } from "./store/model-registry.js";
import type { RunOutcome, RunRecord } from "./store/run-log.js";

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
    holdoutFingerprint: holdout.fingerprint,
    calibration: calibrationMessage(metrics.calibration),
  };
}

const STATUS: Record<VersionStatus, ModelVersionStatus> = {
  serving: ModelVersionStatus.MODEL_VERSION_STATUS_SERVING,
  retired: ModelVersionStatus.MODEL_VERSION_STATUS_RETIRED,
  rejected: ModelVersionStatus.MODEL_VERSION_STATUS_REJECTED,
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
    gateChecks: record.gateChecks.map((c) => ({ rule: c.rule, passed: c.passed, detail: c.detail })),
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
  };
}

const OUTCOME: Record<RunOutcome, RetrainOutcome> = {
  promoted: RetrainOutcome.RETRAIN_OUTCOME_PROMOTED,
  rejected: RetrainOutcome.RETRAIN_OUTCOME_REJECTED,
  failed: RetrainOutcome.RETRAIN_OUTCOME_FAILED,
};

/** A run as liver.v1.RetrainRun. */
export function toRetrainRun(run: RunRecord): RetrainRun {
  return {
    runId: run.runId,
    trigger: run.trigger,
    startedAt: new Date(run.startedAtMs),
    finishedAt: run.finishedAtMs === undefined ? undefined : new Date(run.finishedAtMs),
    outcome: run.outcome === undefined ? RetrainOutcome.RETRAIN_OUTCOME_UNSPECIFIED : OUTCOME[run.outcome],
    modelVersion: run.modelVersion ?? "",
    error: run.error,
    feedbackRows: run.feedbackRows,
  };
}
