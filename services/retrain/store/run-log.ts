import type { StoreDatabase } from "./sqlite-store.js";

/** What started a run (RetrainRun.trigger). */
export type RunTrigger = "feedback" | "admin" | "startup" | "recovery";

/** How a run ended ("pending": its candidate waits for an admin's approval); undefined while it runs. */
export type RunOutcome = "promoted" | "rejected" | "failed" | "pending";

/** A run as recorded. */
export interface RunRecord {
  readonly runId: string;
  readonly trigger: RunTrigger;
  /** Admin-supplied reason, or empty. */
  readonly reason: string;
  readonly startedAtMs: number;
  readonly finishedAtMs: number | undefined;
  readonly outcome: RunOutcome | undefined;
  /** The candidate it produced; undefined if it failed before one was made. */
  readonly modelVersion: string | undefined;
  /** Error or gate reason, in words. */
  readonly error: string;
  /** Newest feedback seq the run trained on: its snapshot of the feedback table. */
  readonly feedbackUpTo: number;
  /** Labelled feedback rows it trained on. */
  readonly feedbackRows: number;
}

/** A run about to start. */
export interface NewRun {
  readonly runId: string;
  readonly trigger: RunTrigger;
  readonly reason: string;
  readonly startedAtMs: number;
  readonly feedbackUpTo: number;
  readonly feedbackRows: number;
}

/** How a run ended. */
export interface RunEnd {
  readonly outcome: RunOutcome;
  readonly modelVersion: string | undefined;
  readonly error: string;
  readonly finishedAtMs: number;
}

interface RunRow {
  run_id: string;
  trigger: RunTrigger;
  reason: string;
  started_at_ms: number;
  finished_at_ms: number | null;
  outcome: RunOutcome | null;
  model_version: string | null;
  error: string;
  feedback_up_to: number;
  feedback_rows: number;
}

/**
 * The retrain run log. A run is written when it starts, so one that dies with the process
 * is still there on restart and is closed as failed ("interrupted"), never forgotten.
 */
export class RunLog {
  constructor(private readonly db: StoreDatabase) {}

  /** Records a run as it starts, before any work, so a crash leaves a trace. */
  start(run: NewRun): void {
    this.db
      .prepare(
        `INSERT INTO retrain_runs (run_id, trigger, reason, started_at_ms, feedback_up_to, feedback_rows)
         VALUES (@runId, @trigger, @reason, @startedAtMs, @feedbackUpTo, @feedbackRows)`,
      )
      .run(run);
  }

  /** Closes an unfinished run with its outcome; a run ends exactly once. */
  finish(runId: string, end: RunEnd): void {
    const result = this.db
      .prepare(
        `UPDATE retrain_runs SET outcome = @outcome, model_version = @modelVersion, error = @error,
           finished_at_ms = @finishedAtMs
         WHERE run_id = @runId AND outcome IS NULL`,
      )
      .run({
        runId,
        outcome: end.outcome,
        modelVersion: end.modelVersion ?? null,
        error: end.error,
        finishedAtMs: end.finishedAtMs,
      });
    if (result.changes !== 1) throw new Error(`retrain run ${runId} is not an unfinished run`);
  }

  /** Closes runs a previous process left open as failed; returns how many. */
  failInterrupted(error: string, nowMs = Date.now()): number {
    return this.db
      .prepare<[string, number]>(
        "UPDATE retrain_runs SET outcome = 'failed', error = ?, finished_at_ms = ? WHERE outcome IS NULL",
      )
      .run(error, nowMs).changes;
  }

  /** The most recently finished run. */
  lastFinished(): RunRecord | undefined {
    const row = this.db
      .prepare<[], RunRow>(
        "SELECT * FROM retrain_runs WHERE outcome IS NOT NULL ORDER BY finished_at_ms DESC, seq DESC LIMIT 1",
      )
      .get();
    return row === undefined ? undefined : toRecord(row);
  }

  /** Runs, newest first. */
  list(limit = 100): RunRecord[] {
    return this.db
      .prepare<[number], RunRow>("SELECT * FROM retrain_runs ORDER BY seq DESC LIMIT ?")
      .all(limit)
      .map(toRecord);
  }

  /**
   * When the newest run that finished with a candidate (promoted, rejected or pending) started;
   * undefined when none did. Review changes made after it are not reflected in any model.
   */
  lastCompletedStartMs(): number | undefined {
    return (
      this.db
        .prepare<[], number | null>(
          "SELECT MAX(started_at_ms) FROM retrain_runs WHERE outcome IN ('promoted', 'rejected', 'pending')",
        )
        .pluck()
        .get() ?? undefined
    );
  }

  /**
   * The newest feedback seq some finished run trained on. A rejected or pending candidate
   * also covers its feedback (retraining the same rows would give the same); a failed run
   * covers nothing, so its feedback stays pending.
   */
  coveredFeedbackSeq(): number {
    return (
      this.db
        .prepare<[], number>(
          "SELECT COALESCE(MAX(feedback_up_to), 0) FROM retrain_runs WHERE outcome IN ('promoted', 'rejected', 'pending')",
        )
        .pluck()
        .get() ?? 0
    );
  }
}

function toRecord(row: RunRow): RunRecord {
  return {
    runId: row.run_id,
    trigger: row.trigger,
    reason: row.reason,
    startedAtMs: row.started_at_ms,
    finishedAtMs: row.finished_at_ms ?? undefined,
    outcome: row.outcome ?? undefined,
    modelVersion: row.model_version ?? undefined,
    error: row.error,
    feedbackUpTo: row.feedback_up_to,
    feedbackRows: row.feedback_rows,
  };
}
