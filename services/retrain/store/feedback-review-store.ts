import { FeedbackAuditLog, type FeedbackAuditAction, type FeedbackSelection } from "./feedback-audit-log.js";
import {
  toStored,
  type FeedbackRow,
  type FeedbackState,
  type StoredFeedback,
  type StoredVerdict,
} from "./feedback-store.js";
import type { StoreDatabase } from "./sqlite-store.js";

/** ListFeedback's filters; each undefined one matches everything. */
export interface FeedbackFilter {
  readonly receivedFromMs: number | undefined;
  readonly receivedBeforeMs: number | undefined;
  /** '' matches any source. */
  readonly source: string;
  readonly verdict: StoredVerdict | undefined;
  readonly state: FeedbackState | undefined;
}

/** A selection the store refuses, with the ids at fault. */
export class FeedbackSelectionError extends Error {
  constructor(
    readonly problem: "unknown-ids" | "unlabelled-release",
    readonly feedbackIds: readonly string[],
    message: string,
  ) {
    super(message);
    this.name = "FeedbackSelectionError";
  }
}

/** What an exclusion or release changed. */
export interface FeedbackChange {
  readonly affected: number;
  readonly auditSeq: number;
  /** Selected don't-know rows, left alone: they never train. */
  readonly unlabelledSkipped: number;
}

/** Which states each action changes, and into what. */
const TRANSITIONS: Record<FeedbackAuditAction, { from: readonly FeedbackState[]; to: FeedbackState }> = {
  exclude: { from: ["trained", "quarantined"], to: "excluded" },
  release: { from: ["quarantined", "excluded"], to: "trained" },
};

/**
 * Operator review of stored feedback: filtered listing, and exclusions and releases that
 * change rows' states and append to the audit log in one transaction. Training reads only
 * 'trained' rows, so a change takes effect at the next run's snapshot.
 */
export class FeedbackReviewStore {
  private readonly audit: FeedbackAuditLog;
  private readonly setState;
  private readonly applyChange;

  constructor(private readonly db: StoreDatabase) {
    this.audit = new FeedbackAuditLog(db);
    this.setState = db.prepare<[string, string, number, number]>(
      "UPDATE feedback SET state = ?, state_reason = ?, state_changed_at_ms = ? WHERE seq = ?",
    );
    this.applyChange = db.transaction(
      (
        action: FeedbackAuditAction,
        selection: FeedbackSelection,
        reason: string,
        actor: string,
        atMs: number,
      ) => this.change(action, selection, reason, actor, atMs),
    );
  }

  /** The audit log this store appends to. */
  get auditLog(): FeedbackAuditLog {
    return this.audit;
  }

  /** Feedback matching the filter with seq below beforeSeq, newest first. */
  list(filter: FeedbackFilter, beforeSeq: number, limit: number): StoredFeedback[] {
    const where = ["seq < ?"];
    const params: (string | number)[] = [beforeSeq];
    addRange(where, params, filter.receivedFromMs, filter.receivedBeforeMs);
    if (filter.source !== "") {
      where.push("source = ?");
      params.push(filter.source);
    }
    if (filter.verdict !== undefined) {
      where.push("verdict = ?");
      params.push(filter.verdict);
    }
    if (filter.state !== undefined) {
      where.push("state = ?");
      params.push(filter.state);
    }
    params.push(limit);
    return this.db
      .prepare<(string | number)[], FeedbackRow>(
        `SELECT * FROM feedback WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT ?`,
      )
      .all(...params)
      .map(toStored);
  }

  /**
   * Excludes (trained or quarantined -> excluded) or releases (quarantined or excluded ->
   * trained) the selected rows and appends the audit entry, all in one transaction. Throws
   * FeedbackSelectionError for ids that do not exist, or, on release, ids of don't-know rows.
   */
  apply(
    action: FeedbackAuditAction,
    selection: FeedbackSelection,
    reason: string,
    actor: string,
    atMs = Date.now(),
  ): FeedbackChange {
    return this.applyChange.immediate(action, selection, reason, actor, atMs);
  }

  private change(
    action: FeedbackAuditAction,
    selection: FeedbackSelection,
    reason: string,
    actor: string,
    atMs: number,
  ): FeedbackChange {
    const rows = this.selected(selection);
    if (selection.feedbackIds.length > 0) {
      const found = new Set(rows.map((row) => row.feedback_id));
      const missing = [...new Set(selection.feedbackIds)].filter((id) => !found.has(id));
      // Named ids must exist even beside a source or range: a typo would otherwise change
      // nothing and still write an audit entry.
      if (missing.length > 0) {
        throw new FeedbackSelectionError(
          "unknown-ids",
          missing,
          `feedback_ids ${missing.slice(0, 10).join(", ")}${missing.length > 10 ? ", ..." : ""} are not stored feedback; ListFeedback shows the stored ids`,
        );
      }
      const unlabelled = rows.filter((row) => row.state === "unlabelled").map((row) => row.feedback_id);
      if (action === "release" && unlabelled.length > 0) {
        throw new FeedbackSelectionError(
          "unlabelled-release",
          unlabelled,
          `feedback ${unlabelled.slice(0, 10).join(", ")} carries a don't-know verdict: it has no label, so it cannot be released into training`,
        );
      }
    }
    const { from, to } = TRANSITIONS[action];
    const changed = rows.filter((row) => from.includes(row.state));
    const stateReason = action === "exclude" ? reason : `released: ${reason}`;
    for (const row of changed) this.setState.run(to, stateReason, Math.round(atMs), row.seq);
    // A loop, not Math.min(...seqs): spreading 100,000+ arguments overflows the stack.
    let minSeq: number | undefined;
    let maxSeq: number | undefined;
    for (const row of changed) {
      minSeq = minSeq === undefined || row.seq < minSeq ? row.seq : minSeq;
      maxSeq = maxSeq === undefined || row.seq > maxSeq ? row.seq : maxSeq;
    }
    const auditSeq = this.audit.append({
      atMs,
      actor,
      action,
      selection,
      reason,
      affected: changed.length,
      affectedIds: changed.map((row) => row.feedback_id),
      affectedMinSeq: minSeq,
      affectedMaxSeq: maxSeq,
    });
    return {
      affected: changed.length,
      auditSeq,
      unlabelledSkipped: rows.filter((row) => row.state === "unlabelled").length,
    };
  }

  private selected(
    selection: FeedbackSelection,
  ): { seq: number; feedback_id: string; state: FeedbackState }[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (selection.feedbackIds.length > 0) {
      where.push(`feedback_id IN (${selection.feedbackIds.map(() => "?").join(", ")})`);
      params.push(...selection.feedbackIds);
    }
    if (selection.source !== "") {
      where.push("source = ?");
      params.push(selection.source);
    }
    addRange(where, params, selection.receivedFromMs, selection.receivedBeforeMs);
    if (where.length === 0) throw new Error("a feedback selection needs at least one selector");
    return this.db
      .prepare<(string | number)[], { seq: number; feedback_id: string; state: FeedbackState }>(
        `SELECT seq, feedback_id, state FROM feedback WHERE ${where.join(" AND ")} ORDER BY seq`,
      )
      .all(...params);
  }
}

function addRange(
  where: string[],
  params: (string | number)[],
  fromMs: number | undefined,
  beforeMs: number | undefined,
): void {
  if (fromMs !== undefined) {
    where.push("received_at_ms >= ?");
    params.push(fromMs);
  }
  if (beforeMs !== undefined) {
    where.push("received_at_ms < ?");
    params.push(beforeMs);
  }
}
