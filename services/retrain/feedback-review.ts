/**
 * The operator review RPCs of RetrainService (ListFeedback, ExcludeFeedback,
 * ReleaseFeedback, ListFeedbackAudit): request checks naming each bad field, opaque page
 * tokens bound to their filters, and a retrain scheduled after every change. The admin
 * check happens before these are called (RetrainService.requireAdmin).
 */
import { patientFromFeatureVector } from "../shared/grpc/contract-vocabulary.js";
import { createHash } from "node:crypto";
import { status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { Diagnosis } from "../gen/liver/v1/patient.js";
import {
  FeedbackAuditAction,
  FeedbackState,
  FeedbackVerdict,
  type ExcludeFeedbackRequest,
  type ExcludeFeedbackResponse,
  FeedbackAuditEntry as FeedbackAuditEntryMessage,
  type FeedbackChangeResponse,
  type FeedbackRecord,
  type FeedbackSelector,
  type ListFeedbackAuditRequest,
  type ListFeedbackAuditResponse,
  type ListFeedbackRequest,
  type ListFeedbackResponse,
  type ReleaseFeedbackRequest,
  type ReleaseFeedbackResponse,
  type TimeRange,
} from "../gen/liver/v1/retrain_service.js";
import type { FieldViolation } from "../shared/features/feature-schema.js";
import { checkReason, checkVerdict, isViolation } from "./request-validation.js";
import type { RetrainScheduler } from "./retrain-scheduler.js";
import { invalidRequest, rpcFailure } from "../shared/grpc/rpc-failure.js";
import type {
  FeedbackAuditAction as StoredAction,
  FeedbackAuditEntry,
  FeedbackSelection,
} from "./store/feedback-audit-log.js";
import type { FeedbackState as StoredState, StoredFeedback } from "./store/feedback-store.js";
import {
  FeedbackSelectionError,
  type FeedbackFilter,
  type FeedbackReviewStore,
} from "./store/feedback-review-store.js";

/** Rows per page when page_size is 0. */
export const DEFAULT_PAGE_SIZE = 100;
/** Largest page_size accepted. */
export const MAX_PAGE_SIZE = 1000;
/** Most feedback_ids one selector may name. */
export const MAX_SELECTED_IDS = 1000;
/** Longest source or feedback id accepted in a request. */
export const MAX_SOURCE_LENGTH = 200;
const MAX_ID_LENGTH = 64;
/** Most encoded bytes of audit entries in one ListFeedbackAudit page (the receive limit is 4 MiB). */
export const AUDIT_PAGE_BYTES = 2 * 1024 * 1024;
const MAX_TOKEN_LENGTH = 200;

const STATES: Record<StoredState, FeedbackState> = {
  trained: FeedbackState.FEEDBACK_STATE_TRAINED,
  quarantined: FeedbackState.FEEDBACK_STATE_QUARANTINED,
  excluded: FeedbackState.FEEDBACK_STATE_EXCLUDED,
  unlabelled: FeedbackState.FEEDBACK_STATE_UNLABELLED,
};
const STATE_NAMES =
  "FEEDBACK_STATE_TRAINED (1), FEEDBACK_STATE_QUARANTINED (2), FEEDBACK_STATE_EXCLUDED (3) or FEEDBACK_STATE_UNLABELLED (4), or 0 for any";

/** The collaborators of FeedbackReview. */
export interface FeedbackReviewDeps {
  readonly store: FeedbackReviewStore;
  readonly scheduler: Pick<RetrainScheduler, "request">;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Rows changed state (excluded or released): whatever counts them from the table rereads it. */
  readonly onChanged?: () => void;
}

/** Handlers of the four review RPCs (called after the admin check). */
export class FeedbackReview {
  private readonly now: () => number;

  constructor(private readonly deps: FeedbackReviewDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** A page of feedback matching the filters, newest first. */
  listFeedback(request: ListFeedbackRequest): ListFeedbackResponse {
    const violations: FieldViolation[] = [];
    const range = checkRange("received", request.received, violations);
    const source = checkSource("source", request.source, violations);
    let verdict: FeedbackFilter["verdict"];
    if (request.verdict !== FeedbackVerdict.FEEDBACK_VERDICT_UNSPECIFIED) {
      const checked = checkVerdict(request.verdict);
      if (isViolation(checked)) violations.push(checked);
      else verdict = checked;
    }
    const state = checkState(request.state, violations);
    const pageSize = checkPageSize(request.pageSize, violations);
    if (violations.length > 0) throw invalidRequest(violations);
    const filter: FeedbackFilter = { ...range, source, verdict, state };
    const digest = filterDigest(filter);
    const beforeSeq =
      request.pageToken === "" ? Number.MAX_SAFE_INTEGER : readToken(request.pageToken, "feedback", digest);
    const rows = this.deps.store.list(filter, beforeSeq, pageSize + 1);
    const page = rows.slice(0, pageSize);
    const last = page.at(-1);
    return {
      feedback: page.map(toRecord),
      nextPageToken:
        rows.length > pageSize && last !== undefined ? writeToken("feedback", last.seq, digest) : "",
    };
  }

  /** Takes the selected rows out of training. */
  excludeFeedback(request: ExcludeFeedbackRequest, actor: string): ExcludeFeedbackResponse {
    return { change: this.change("exclude", request.selector, request.reason, actor) };
  }

  /** Puts quarantined or excluded rows (back) into training. */
  releaseFeedback(request: ReleaseFeedbackRequest, actor: string): ReleaseFeedbackResponse {
    return { change: this.change("release", request.selector, request.reason, actor) };
  }

  /** A page of the audit log, newest first. */
  listFeedbackAudit(request: ListFeedbackAuditRequest): ListFeedbackAuditResponse {
    const violations: FieldViolation[] = [];
    const pageSize = checkPageSize(request.pageSize, violations);
    if (violations.length > 0) throw invalidRequest(violations);
    const beforeSeq =
      request.pageToken === "" ? Number.MAX_SAFE_INTEGER : readToken(request.pageToken, "audit", "");
    const entries = this.deps.store.auditLog.list(beforeSeq, pageSize + 1);
    // An entry can name up to 2,000 ids (~80 KB): a page also ends before it would pass
    // AUDIT_PAGE_BYTES, so grpcurl's and grpc-js's 4 MiB receive limit is never reached.
    const page: FeedbackAuditEntryMessage[] = [];
    let bytes = 0;
    for (const entry of entries.slice(0, pageSize)) {
      const message = toAuditMessage(entry);
      bytes += FeedbackAuditEntryMessage.encode(message).finish().byteLength;
      if (page.length > 0 && bytes > AUDIT_PAGE_BYTES) break;
      page.push(message);
    }
    const last = page.at(-1);
    return {
      entries: page,
      nextPageToken:
        entries.length > page.length && last !== undefined ? writeToken("audit", last.seq, "") : "",
    };
  }

  private change(
    action: StoredAction,
    selector: FeedbackSelector | undefined,
    reason: string,
    actor: string,
  ): FeedbackChangeResponse {
    const violations: FieldViolation[] = [];
    const selection = checkSelector(selector, violations);
    if (reason.trim() === "") {
      violations.push({ field: "reason", description: "reason is required: say why, for the audit log" });
    } else {
      violations.push(...checkReason(reason));
    }
    if (violations.length > 0 || selection === undefined) throw invalidRequest(violations);
    let change;
    try {
      change = this.deps.store.apply(action, selection, reason, actor, this.now());
    } catch (error) {
      if (error instanceof FeedbackSelectionError) {
        throw rpcFailure(
          error.problem === "unknown-ids" ? status.NOT_FOUND : status.FAILED_PRECONDITION,
          error.message,
        );
      }
      throw error;
    }
    if (change.affected > 0) this.deps.onChanged?.();
    const retrainScheduled =
      change.affected > 0 &&
      this.deps.scheduler.request("admin", `${action} feedback: ${reason}`.slice(0, 200));
    this.deps.logger.warn(
      {
        action,
        actor,
        selection,
        reason,
        affected: change.affected,
        auditSeq: change.auditSeq,
        retrainScheduled,
      },
      `operator ${action}d ${change.affected} feedback row(s)`,
    );
    return {
      affected: change.affected,
      retrainScheduled,
      auditSeq: change.auditSeq,
      unlabelledSkipped: change.unlabelledSkipped,
    };
  }
}

function checkRange(
  field: string,
  range: TimeRange | undefined,
  violations: FieldViolation[],
): { receivedFromMs: number | undefined; receivedBeforeMs: number | undefined } {
  const fromMs = checkTime(`${field}.start`, range?.start, violations);
  const beforeMs = checkTime(`${field}.end`, range?.end, violations);
  if (fromMs !== undefined && beforeMs !== undefined && fromMs >= beforeMs) {
    violations.push({
      field,
      description: `${field}.start (${new Date(fromMs).toISOString()}) must be before ${field}.end (${new Date(beforeMs).toISOString()})`,
    });
  }
  return { receivedFromMs: fromMs, receivedBeforeMs: beforeMs };
}

function checkTime(field: string, value: Date | undefined, violations: FieldViolation[]): number | undefined {
  if (value === undefined) return undefined;
  const ms = value.getTime();
  if (!Number.isFinite(ms)) {
    violations.push({
      field,
      description: `${field} is not a representable time; send an RFC 3339 timestamp`,
    });
    return undefined;
  }
  return ms;
}

function checkSource(field: string, source: string, violations: FieldViolation[]): string {
  if (source.length > MAX_SOURCE_LENGTH) {
    violations.push({
      field,
      description: `${field} is ${source.length} characters; at most ${MAX_SOURCE_LENGTH}`,
    });
  }
  // eslint-disable-next-line no-control-regex
  else if (/[\u0000-\u001f\u007f]/.test(source)) {
    violations.push({
      field,
      description: `${field} contains control characters; sources are printable text`,
    });
  }
  return source;
}

function checkState(state: FeedbackState, violations: FieldViolation[]): StoredState | undefined {
  if (state === FeedbackState.FEEDBACK_STATE_UNSPECIFIED) return undefined;
  const entry = Object.entries(STATES).find(([, value]) => value === state);
  if (entry === undefined) {
    violations.push({
      field: "state",
      description: `state has unknown enum value ${String(state)}; expected ${STATE_NAMES}`,
    });
    return undefined;
  }
  return entry[0] as StoredState;
}

function checkPageSize(pageSize: number, violations: FieldViolation[]): number {
  if (pageSize === 0) return DEFAULT_PAGE_SIZE;
  if (pageSize > MAX_PAGE_SIZE) {
    violations.push({
      field: "page_size",
      description: `page_size is ${pageSize}; at most ${MAX_PAGE_SIZE} (0 means ${DEFAULT_PAGE_SIZE})`,
    });
  }
  return pageSize;
}

function checkSelector(
  selector: FeedbackSelector | undefined,
  violations: FieldViolation[],
): FeedbackSelection | undefined {
  const none = {
    field: "selector",
    description:
      "selector is required: give feedback_ids, a source or a received time range (several combine); nothing was changed",
  };
  if (selector === undefined) {
    violations.push(none);
    return undefined;
  }
  const before = violations.length;
  const ids = selector.feedbackIds;
  if (ids.length > MAX_SELECTED_IDS) {
    violations.push({
      field: "selector.feedback_ids",
      description: `selector.feedback_ids names ${ids.length} ids; at most ${MAX_SELECTED_IDS} per call (or select by source or time range)`,
    });
  } else {
    ids.forEach((id, i) => {
      if (id === "" || id.length > MAX_ID_LENGTH || !/^[0-9A-Za-z-]+$/.test(id)) {
        violations.push({
          field: `selector.feedback_ids[${i}]`,
          description: `selector.feedback_ids[${i}] is not a feedback id; use the feedback_id ListFeedback shows`,
        });
      }
    });
  }
  const source = checkSource("selector.source", selector.source, violations);
  const range = checkRange("selector.received", selector.received, violations);
  if (violations.length > before) return undefined;
  if (
    ids.length === 0 &&
    source === "" &&
    range.receivedFromMs === undefined &&
    range.receivedBeforeMs === undefined
  ) {
    violations.push(none);
    return undefined;
  }
  return { feedbackIds: ids, source, ...range };
}

/** A short digest of the filters, so a page token only continues the listing it came from. */
function filterDigest(filter: FeedbackFilter): string {
  const canonical = JSON.stringify([
    filter.receivedFromMs ?? null,
    filter.receivedBeforeMs ?? null,
    filter.source,
    filter.verdict ?? null,
    filter.state ?? null,
  ]);
  return createHash("sha256").update(canonical).digest("base64url").slice(0, 16);
}

function writeToken(kind: "feedback" | "audit", beforeSeq: number, digest: string): string {
  return Buffer.from(JSON.stringify({ k: kind, b: beforeSeq, f: digest }), "utf8").toString("base64url");
}

/** The seq a page token continues before; INVALID_ARGUMENT naming page_token otherwise. */
function readToken(token: string, kind: "feedback" | "audit", digest: string): number {
  const bad = (why: string) =>
    invalidRequest([
      {
        field: "page_token",
        description: `page_token ${why}; pass next_page_token unchanged, or an empty page_token for the first page`,
      },
    ]);
  if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token))
    throw bad("is not a token this server issued");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw bad("is not a token this server issued");
  }
  if (typeof parsed !== "object" || parsed === null) throw bad("is not a token this server issued");
  const { k, b, f } = parsed as { k?: unknown; b?: unknown; f?: unknown };
  if (k !== kind || typeof b !== "number" || !Number.isSafeInteger(b) || b < 1 || typeof f !== "string") {
    throw bad("is not a token this server issued");
  }
  if (f !== digest) throw bad("was issued for other filters; keep the filters of the first page");
  return b;
}

function toRecord(row: StoredFeedback): FeedbackRecord {
  return {
    seq: row.seq,
    feedbackId: row.feedbackId,
    predictionId: row.predictionId,
    verdict:
      row.verdict === 1
        ? FeedbackVerdict.FEEDBACK_VERDICT_CORRECT
        : row.verdict === 2
          ? FeedbackVerdict.FEEDBACK_VERDICT_WRONG
          : FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN,
    label:
      row.label === null
        ? Diagnosis.DIAGNOSIS_UNSPECIFIED
        : row.label === 1
          ? Diagnosis.DIAGNOSIS_LIVER_DISEASE
          : Diagnosis.DIAGNOSIS_NO_LIVER_DISEASE,
    state: STATES[row.state],
    stateReason: row.stateReason,
    source: row.source,
    peer: row.peer,
    clientAddress: row.clientAddress,
    principal: row.principal,
    modelVersion: row.modelVersion,
    probability: row.probability,
    receivedAt: new Date(row.receivedAtMs),
    features: Array.from(row.features),
    patient: patientFromFeatureVector(row.features),
    stateChangedAt: row.stateChangedAtMs === undefined ? undefined : new Date(row.stateChangedAtMs),
  };
}

function toAuditMessage(entry: FeedbackAuditEntry): FeedbackAuditEntryMessage {
  const { selection } = entry;
  return {
    seq: entry.seq,
    at: new Date(entry.atMs),
    actor: entry.actor,
    action:
      entry.action === "exclude"
        ? FeedbackAuditAction.FEEDBACK_AUDIT_ACTION_EXCLUDE
        : FeedbackAuditAction.FEEDBACK_AUDIT_ACTION_RELEASE,
    selector: {
      feedbackIds: [...selection.feedbackIds],
      source: selection.source,
      received:
        selection.receivedFromMs === undefined && selection.receivedBeforeMs === undefined
          ? undefined
          : {
              start: selection.receivedFromMs === undefined ? undefined : new Date(selection.receivedFromMs),
              end:
                selection.receivedBeforeMs === undefined ? undefined : new Date(selection.receivedBeforeMs),
            },
    },
    reason: entry.reason,
    affected: entry.affected,
    affectedFeedbackIds: [...entry.affectedIds],
    affectedMinSeq: entry.affectedMinSeq ?? 0,
    affectedMaxSeq: entry.affectedMaxSeq ?? 0,
  };
}
