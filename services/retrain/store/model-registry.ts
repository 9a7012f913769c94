import type { BinaryMetrics } from "../../shared/model/metrics.js";
import { parseSiteCalibrationsFile, type SiteCalibrationsFile } from "../../shared/model/served-answer.js";
import { parseCalibrationRecord, type CalibrationRecord } from "../../shared/model/output-calibration.js";
import type { GateCheck } from "../quality-gate.js";
import type { ServedClassChange } from "../served-change.js";
import type { FeedbackSummary } from "./feedback-summary.js";
import type { StoreDatabase } from "./sqlite-store.js";

/**
 * Where a version stands: exactly one serves; retired ones passed the gate earlier; at most
 * one is pending (waits for an admin's approval).
 */
export type VersionStatus = "serving" | "retired" | "rejected" | "pending";

/** The served-answer comparison with the last approved version, as stored with a candidate. */
export interface ApprovalEvidence {
  /** The approved version compared with; undefined for the first version. */
  readonly approvedVersion: string | undefined;
  /** APPROVAL_MAX_CLASS_CHANGE when measured. */
  readonly maxClassChange: number;
  /** Whether a judged change exceeded it (the candidate needed a person). */
  readonly required: boolean;
  readonly changes: readonly ServedClassChange[];
  /** The labelled feedback it trained on that the approved version did not. */
  readonly feedback: FeedbackSummary;
}

/** What a person (or a newer candidate) decided about a version. */
export interface ApprovalDecision {
  readonly decision: "approved" | "rejected" | "superseded";
  /** The admin principal, or "automatic" for a supersession. */
  readonly by: string;
  readonly reason: string;
  readonly atMs: number;
}

/** Version names are "v" and a positive number, in training order. */
export const VERSION_NAME_PATTERN = /^v[1-9][0-9]{0,8}$/;

/** The name of the n-th trained version. */
export function versionName(seq: number): string {
  return `v${seq}`;
}

/** A trained candidate, before the gate decided. */
export interface NewModelVersion {
  readonly seq: number;
  readonly modelVersion: string;
  readonly metrics: BinaryMetrics;
  readonly originalRows: number;
  readonly feedbackRows: number;
  readonly holdoutRows: number;
  readonly parentVersion: string | undefined;
  readonly reason: string;
  readonly createdAtMs: number;
  readonly sha256: string;
  readonly synthetic: boolean;
  readonly runId: string;
  /** The holdout `metrics` were measured on: its scheme ("lab-profile-v1", or "row-v1" before) and fingerprint. */
  readonly holdoutScheme: string;
  readonly holdoutFingerprint: string;
  /** Every gate rule's outcome (empty for versions gated before the rules existed). */
  readonly gateChecks: readonly GateCheck[];
  /** The site recalibration its artifact serves with; undefined for versions without one. */
  readonly calibration: CalibrationRecord | undefined;
  /** Its served answers against the last approved version; undefined for versions from before. */
  readonly approval?: ApprovalEvidence | undefined;
  /** The non-default sites' calibrations its artifact serves with; undefined for versions without. */
  readonly siteCalibrations?: SiteCalibrationsFile | undefined;
}

/** A registry entry. */
export interface ModelVersionRecord extends NewModelVersion {
  readonly status: VersionStatus;
  /** When it last became serving; undefined if it never served. */
  readonly promotedAtMs: number | undefined;
  /** When a person approved it (or chose it by rollback); undefined otherwise. */
  readonly approvedAtMs: number | undefined;
  /** The decision on a candidate that waited; undefined when none was needed or it still waits. */
  readonly decision: ApprovalDecision | undefined;
}

/** An approval or rejection: the version decided and the one serving afterwards. */
export interface ApprovalResult {
  readonly current: ModelVersionRecord;
  readonly previous: ModelVersionRecord | undefined;
}

/** What a rollback changed. */
export interface RollbackResult {
  readonly current: ModelVersionRecord;
  readonly previous: ModelVersionRecord | undefined;
}

/** A rollback the registry refuses, with the reason in words. */
export class RegistryError extends Error {
  constructor(
    readonly problem: "not-found" | "rejected" | "not-pending",
    message: string,
  ) {
    super(message);
    this.name = "RegistryError";
  }
}

interface VersionRow {
  seq: number;
  model_version: string;
  status: VersionStatus;
  metrics_json: string;
  original_rows: number;
  feedback_rows: number;
  holdout_rows: number;
  parent_version: string | null;
  reason: string;
  created_at_ms: number;
  promoted_at_ms: number | null;
  sha256: string;
  synthetic: number;
  run_id: string;
  holdout_scheme: string;
  holdout_fingerprint: string;
  gate_checks_json: string;
  calibration_json: string;
  approval_json: string;
  approved_at_ms: number | null;
  decision: "" | "approved" | "rejected" | "superseded";
  decided_by: string;
  decision_reason: string;
  decided_at_ms: number | null;
  site_calibrations_json: string;
}

/**
 * The model registry: every trained version with its gate outcome. The registry row is
 * the commit point of a version; an artifact folder without a row is an interrupted run's
 * leftover and is never served.
 */
export class ModelRegistry {
  constructor(private readonly db: StoreDatabase) {}

  /** Every version, newest first. */
  list(): ModelVersionRecord[] {
    return this.db
      .prepare<[], VersionRow>("SELECT * FROM model_versions ORDER BY seq DESC")
      .all()
      .map(toRecord);
  }

  /** One version by name; undefined when the registry never had it. */
  get(modelVersion: string): ModelVersionRecord | undefined {
    const row = this.db
      .prepare<[string], VersionRow>("SELECT * FROM model_versions WHERE model_version = ?")
      .get(modelVersion);
    return row === undefined ? undefined : toRecord(row);
  }

  /** The version serving now; undefined before the first promotion. */
  serving(): ModelVersionRecord | undefined {
    const row = this.db
      .prepare<[], VersionRow>("SELECT * FROM model_versions WHERE status = 'serving'")
      .get();
    return row === undefined ? undefined : toRecord(row);
  }

  /**
   * Retires the serving version without a successor (after the original data is
   * re-imported, no earlier version was trained on it): the next run trains as on a first
   * start. Returns the retired version's name, or undefined when none served.
   */
  retireServing(): string | undefined {
    const serving = this.serving();
    if (serving === undefined) return undefined;
    this.db.prepare("UPDATE model_versions SET status = 'retired' WHERE status = 'serving'").run();
    return serving.modelVersion;
  }

  /** The number the next trained version takes. */
  nextSeq(): number {
    return (
      (this.db.prepare<[], number>("SELECT COALESCE(MAX(seq), 0) FROM model_versions").pluck().get() ?? 0) + 1
    );
  }

  /**
   * Records a candidate. A promoted one becomes serving and the previous serving version
   * retires, in the same transaction, so there is never zero or two serving versions.
   */
  add(candidate: NewModelVersion, promote: boolean, nowMs = Date.now()): ModelVersionRecord {
    return this.insert(candidate, promote ? "serving" : "rejected", nowMs);
  }

  /**
   * Records a candidate that waits for an admin. A candidate that was already waiting is
   * superseded (rejected, with the newer one named) in the same transaction: at most one waits.
   */
  addPending(candidate: NewModelVersion, nowMs = Date.now()): ModelVersionRecord {
    return this.insert(candidate, "pending", nowMs);
  }

  /** The candidate waiting for approval; undefined when none waits. */
  pending(): ModelVersionRecord | undefined {
    const row = this.db
      .prepare<[], VersionRow>("SELECT * FROM model_versions WHERE status = 'pending'")
      .get();
    return row === undefined ? undefined : toRecord(row);
  }

  /**
   * The version served answers are compared with: the last one a person approved (by
   * ApproveModelVersion or RollbackModel), else the first version that served.
   */
  approvedBaseline(): ModelVersionRecord | undefined {
    const row =
      this.db
        .prepare<[], VersionRow>(
          "SELECT * FROM model_versions WHERE approved_at_ms IS NOT NULL ORDER BY approved_at_ms DESC, seq DESC LIMIT 1",
        )
        .get() ??
      this.db
        .prepare<[], VersionRow>(
          "SELECT * FROM model_versions WHERE promoted_at_ms IS NOT NULL ORDER BY seq ASC LIMIT 1",
        )
        .get();
    return row === undefined ? undefined : toRecord(row);
  }

  /**
   * A person approves the waiting candidate: it serves, the serving version retires, and it
   * becomes the approved version later candidates are compared with.
   */
  approve(modelVersion: string, admin: string, reason: string, nowMs = Date.now()): ApprovalResult {
    return this.db
      .transaction((): ApprovalResult => {
        this.requirePending(modelVersion);
        const previous = this.serving();
        this.db.prepare("UPDATE model_versions SET status = 'retired' WHERE status = 'serving'").run();
        this.db
          .prepare(
            `UPDATE model_versions SET status = 'serving', promoted_at_ms = @nowMs, approved_at_ms = @nowMs,
             decision = 'approved', decided_by = @admin, decision_reason = @reason, decided_at_ms = @nowMs,
             reason = @registryReason
           WHERE model_version = @modelVersion`,
          )
          .run({ nowMs, admin, reason, registryReason: `approved by ${admin}: ${reason}`, modelVersion });
        return { current: this.mustGet(modelVersion), previous };
      })
      .immediate();
  }

  /** A person refuses the waiting candidate: it is rejected and never serves. */
  reject(modelVersion: string, admin: string, reason: string, nowMs = Date.now()): ApprovalResult {
    return this.db
      .transaction((): ApprovalResult => {
        this.requirePending(modelVersion);
        this.db
          .prepare(
            `UPDATE model_versions SET status = 'rejected', decision = 'rejected', decided_by = @admin,
             decision_reason = @reason, decided_at_ms = @nowMs, reason = @registryReason
           WHERE model_version = @modelVersion`,
          )
          .run({ nowMs, admin, reason, registryReason: `rejected by ${admin}: ${reason}`, modelVersion });
        return { current: this.mustGet(modelVersion), previous: this.serving() };
      })
      .immediate();
  }

  private requirePending(modelVersion: string): ModelVersionRecord {
    const target = this.get(modelVersion);
    if (target === undefined) {
      throw new RegistryError("not-found", `model_version ${modelVersion} is not in the registry`);
    }
    if (target.status !== "pending") {
      throw new RegistryError(
        "not-pending",
        `model_version ${modelVersion} does not wait for approval (it is ${target.status}${target.decision === undefined ? "" : `, ${target.decision.decision} by ${target.decision.by}`})`,
      );
    }
    return target;
  }

  private mustGet(modelVersion: string): ModelVersionRecord {
    const record = this.get(modelVersion);
    if (record === undefined) throw new Error(`${modelVersion} vanished from the registry`);
    return record;
  }

  private insert(candidate: NewModelVersion, status: VersionStatus, nowMs: number): ModelVersionRecord {
    this.db
      .transaction(() => {
        if (status === "serving")
          this.db.prepare("UPDATE model_versions SET status = 'retired' WHERE status = 'serving'").run();
        if (status === "serving" || status === "pending") {
          // A newer candidate that serves or waits makes a waiting one stale: it was measured
          // against answers that are no longer the newest, and approving it would step back.
          this.db
            .prepare(
              `UPDATE model_versions SET status = 'rejected', decision = 'superseded', decided_by = 'automatic',
               decision_reason = @why, decided_at_ms = @nowMs, reason = @registryReason
             WHERE status = 'pending'`,
            )
            .run({
              nowMs,
              why: `superseded by ${candidate.modelVersion}`,
              registryReason: `superseded by ${candidate.modelVersion} before anyone approved it`,
            });
        }
        this.db
          .prepare(
            `INSERT INTO model_versions (seq, model_version, status, metrics_json, roc_auc, original_rows,
             feedback_rows, holdout_rows, parent_version, reason, created_at_ms, promoted_at_ms, sha256,
             synthetic, run_id, holdout_scheme, holdout_fingerprint, gate_checks_json, calibration_json,
             approval_json, approved_at_ms, site_calibrations_json)
           VALUES (@seq, @modelVersion, @status, @metricsJson, @rocAuc, @originalRows, @feedbackRows,
             @holdoutRows, @parentVersion, @reason, @createdAtMs, @promotedAtMs, @sha256, @synthetic, @runId,
             @holdoutScheme, @holdoutFingerprint, @gateChecksJson, @calibrationJson, @approvalJson,
             @approvedAtMs, @siteCalibrationsJson)`,
          )
          .run({
            seq: candidate.seq,
            modelVersion: candidate.modelVersion,
            status,
            metricsJson: JSON.stringify(candidate.metrics),
            rocAuc: candidate.metrics.rocAuc,
            originalRows: candidate.originalRows,
            feedbackRows: candidate.feedbackRows,
            holdoutRows: candidate.holdoutRows,
            parentVersion: candidate.parentVersion ?? null,
            reason: candidate.reason,
            createdAtMs: candidate.createdAtMs,
            promotedAtMs: status === "serving" ? nowMs : null,
            sha256: candidate.sha256,
            synthetic: candidate.synthetic ? 1 : 0,
            runId: candidate.runId,
            holdoutScheme: candidate.holdoutScheme,
            holdoutFingerprint: candidate.holdoutFingerprint,
            gateChecksJson: JSON.stringify(candidate.gateChecks),
            calibrationJson: candidate.calibration === undefined ? "" : JSON.stringify(candidate.calibration),
            approvalJson: candidate.approval === undefined ? "" : JSON.stringify(candidate.approval),
            // The first version counts as approved: later ones are compared with it.
            approvedAtMs: status === "serving" && this.approvedBaseline() === undefined ? nowMs : null,
            siteCalibrationsJson:
              candidate.siteCalibrations === undefined ? "" : JSON.stringify(candidate.siteCalibrations),
          });
      })
      .immediate();
    const stored = this.get(candidate.modelVersion);
    if (stored === undefined) throw new Error(`${candidate.modelVersion} was not stored in the registry`);
    return stored;
  }

  /**
   * Replaces a version's holdout figures with ones measured on another holdout (the store's
   * migration to the lab-profile split re-scores the serving version at start).
   */
  remeasure(
    modelVersion: string,
    metrics: BinaryMetrics,
    holdoutScheme: string,
    holdoutFingerprint: string,
  ): void {
    const changed = this.db
      .prepare(
        `UPDATE model_versions SET metrics_json = @metricsJson, roc_auc = @rocAuc, holdout_rows = @holdoutRows,
           holdout_scheme = @holdoutScheme, holdout_fingerprint = @holdoutFingerprint
         WHERE model_version = @modelVersion`,
      )
      .run({
        modelVersion,
        metricsJson: JSON.stringify(metrics),
        rocAuc: metrics.rocAuc,
        holdoutRows: metrics.rows,
        holdoutScheme,
        holdoutFingerprint,
      }).changes;
    if (changed !== 1) throw new Error(`model_version ${modelVersion} is not in the registry`);
  }

  /**
   * Makes a version that passed the gate serving again. Rolling back to the serving
   * version changes nothing and reports it as both current and previous.
   */
  rollback(modelVersion: string, reason: string, nowMs = Date.now()): RollbackResult {
    return this.db
      .transaction((): RollbackResult => {
        const target = this.get(modelVersion);
        if (target === undefined) {
          throw new RegistryError("not-found", `model_version ${modelVersion} is not in the registry`);
        }
        if (target.status === "pending") {
          throw new RegistryError(
            "not-pending",
            `model_version ${modelVersion} waits for approval; ApproveModelVersion makes it serve`,
          );
        }
        if (target.status === "rejected") {
          throw new RegistryError(
            "rejected",
            `model_version ${modelVersion} was rejected by the quality gate (${target.reason}); only versions that passed the gate can serve`,
          );
        }
        const previous = this.serving();
        if (previous?.modelVersion === modelVersion) return { current: target, previous };
        this.db.prepare("UPDATE model_versions SET status = 'retired' WHERE status = 'serving'").run();
        // An admin chose it to serve: later candidates are compared with it.
        this.db
          .prepare<[number, number, string, string]>(
            "UPDATE model_versions SET status = 'serving', promoted_at_ms = ?, approved_at_ms = ?, reason = ? WHERE model_version = ?",
          )
          .run(nowMs, nowMs, reason, modelVersion);
        const current = this.get(modelVersion);
        if (current === undefined) throw new Error(`${modelVersion} vanished during the rollback`);
        return { current, previous };
      })
      .immediate();
  }
}

function toRecord(row: VersionRow): ModelVersionRecord {
  return {
    seq: row.seq,
    modelVersion: row.model_version,
    status: row.status,
    metrics: JSON.parse(row.metrics_json) as BinaryMetrics,
    originalRows: row.original_rows,
    feedbackRows: row.feedback_rows,
    holdoutRows: row.holdout_rows,
    parentVersion: row.parent_version ?? undefined,
    reason: row.reason,
    createdAtMs: row.created_at_ms,
    promotedAtMs: row.promoted_at_ms ?? undefined,
    sha256: row.sha256,
    synthetic: row.synthetic === 1,
    runId: row.run_id,
    holdoutScheme: row.holdout_scheme,
    holdoutFingerprint: row.holdout_fingerprint,
    gateChecks: JSON.parse(row.gate_checks_json) as GateCheck[],
    calibration:
      row.calibration_json === "" ? undefined : parseCalibrationRecord(JSON.parse(row.calibration_json)),
    approval: row.approval_json === "" ? undefined : (JSON.parse(row.approval_json) as ApprovalEvidence),
    approvedAtMs: row.approved_at_ms ?? undefined,
    decision:
      row.decision === "" || row.decided_at_ms === null
        ? undefined
        : {
            decision: row.decision,
            by: row.decided_by,
            reason: row.decision_reason,
            atMs: row.decided_at_ms,
          },
    siteCalibrations:
      row.site_calibrations_json === ""
        ? undefined
        : parseSiteCalibrationsFile(JSON.parse(row.site_calibrations_json)),
  };
}
