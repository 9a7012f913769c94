import type { StoreDatabase } from "./sqlite-store.js";

/** What an operator did to feedback. */
export type FeedbackAuditAction = "exclude" | "release";

/** Which rows an exclusion or release selected; the fields combine (AND). */
export interface FeedbackSelection {
  readonly feedbackIds: readonly string[];
  /** '' selects any source. */
  readonly source: string;
  /** Received at or after; undefined for no lower bound. */
  readonly receivedFromMs: number | undefined;
  /** Received before; undefined for no upper bound. */
  readonly receivedBeforeMs: number | undefined;
}

/** Audit entries list the changed ids up to this many; beyond, the seq range stands for them. */
export const MAX_AUDITED_IDS = 1000;

/** One entry of the audit log. */
export interface FeedbackAuditEntry {
  readonly seq: number;
  readonly atMs: number;
  readonly actor: string;
  readonly action: FeedbackAuditAction;
  readonly selection: FeedbackSelection;
  readonly reason: string;
  readonly affected: number;
  /** The changed ids when at most MAX_AUDITED_IDS; empty otherwise. */
  readonly affectedIds: readonly string[];
  readonly affectedMinSeq: number | undefined;
  readonly affectedMaxSeq: number | undefined;
}

interface AuditRow {
  seq: number;
  at_ms: number;
  actor: string;
  action: FeedbackAuditAction;
  selector_json: string;
  reason: string;
  affected: number;
  affected_ids_json: string;
  affected_min_seq: number | null;
  affected_max_seq: number | null;
}

/**
 * The append-only record of every exclusion and release: who, when, what was selected,
 * why, and which rows changed. Written in the same transaction as the change, so the log
 * and the feedback states never disagree, whatever happens to the process.
 */
export class FeedbackAuditLog {
  constructor(private readonly db: StoreDatabase) {}

  /** Appends an entry (call inside the change's transaction); returns its seq. */
  append(entry: Omit<FeedbackAuditEntry, "seq">): number {
    const result = this.db
      .prepare(
        `INSERT INTO feedback_audit (at_ms, actor, action, selector_json, reason, affected, affected_ids_json,
           affected_min_seq, affected_max_seq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        Math.round(entry.atMs),
        entry.actor,
        entry.action,
        JSON.stringify(entry.selection),
        entry.reason,
        entry.affected,
        JSON.stringify(entry.affectedIds.length <= MAX_AUDITED_IDS ? entry.affectedIds : []),
        entry.affectedMinSeq ?? null,
        entry.affectedMaxSeq ?? null,
      );
    return Number(result.lastInsertRowid);
  }

  /** Entries with seq below beforeSeq, newest first. */
  list(beforeSeq: number, limit: number): FeedbackAuditEntry[] {
    return this.db
      .prepare<[number, number], AuditRow>(
        "SELECT * FROM feedback_audit WHERE seq < ? ORDER BY seq DESC LIMIT ?",
      )
      .all(beforeSeq, limit)
      .map(toEntry);
  }

  /** When the newest change that changed any row was made; undefined when none ever did. */
  latestChangeAtMs(): number | undefined {
    return (
      this.db
        .prepare<[], number | null>("SELECT MAX(at_ms) FROM feedback_audit WHERE affected > 0")
        .pluck()
        .get() ?? undefined
    );
  }
}

function toEntry(row: AuditRow): FeedbackAuditEntry {
  return {
    seq: row.seq,
    atMs: row.at_ms,
    actor: row.actor,
    action: row.action,
    selection: JSON.parse(row.selector_json) as FeedbackSelection,
    reason: row.reason,
    affected: row.affected,
    affectedIds: JSON.parse(row.affected_ids_json) as string[],
    affectedMinSeq: row.affected_min_seq ?? undefined,
    affectedMaxSeq: row.affected_max_seq ?? undefined,
  };
}
