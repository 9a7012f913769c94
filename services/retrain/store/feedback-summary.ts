import type { StoreDatabase } from "./sqlite-store.js";

/** Most sources and principals a summary names (the counts say how many there are in all). */
export const SUMMARY_MAX_NAMES = 20;

/** Who sent a span of training feedback, and when: what a person weighs before approving. */
export interface FeedbackSummary {
  readonly rows: number;
  /** Rows per source, most rows first, at most SUMMARY_MAX_NAMES. */
  readonly sources: readonly { readonly source: string; readonly rows: number }[];
  readonly sourceCount: number;
  /** Authenticated principals, at most SUMMARY_MAX_NAMES. */
  readonly principals: readonly string[];
  readonly principalCount: number;
  /** Received times of the first and last row; undefined when there are none. */
  readonly firstReceivedAtMs: number | undefined;
  readonly lastReceivedAtMs: number | undefined;
}

/** The training feedback (state 'trained') with seq in (afterSeq, upToSeq]. */
export function summarizeFeedback(db: StoreDatabase, afterSeq: number, upToSeq: number): FeedbackSummary {
  const where = "FROM feedback WHERE state = 'trained' AND seq > @afterSeq AND seq <= @upToSeq";
  const span = db
    .prepare<
      { afterSeq: number; upToSeq: number },
      { rows: number; first: number | null; last: number | null; principals: number; sources: number }
    >(
      `SELECT COUNT(*) AS rows, MIN(received_at_ms) AS first, MAX(received_at_ms) AS last,
         COUNT(DISTINCT NULLIF(principal, '')) AS principals, COUNT(DISTINCT source) AS sources ${where}`,
    )
    .get({ afterSeq, upToSeq });
  const sources = db
    .prepare<{ afterSeq: number; upToSeq: number; limit: number }, { source: string; rows: number }>(
      `SELECT source, COUNT(*) AS rows ${where} GROUP BY source ORDER BY rows DESC, source LIMIT @limit`,
    )
    .all({ afterSeq, upToSeq, limit: SUMMARY_MAX_NAMES });
  const principals = db
    .prepare<{ afterSeq: number; upToSeq: number; limit: number }, string>(
      `SELECT DISTINCT principal ${where} AND principal != '' ORDER BY principal LIMIT @limit`,
    )
    .pluck()
    .all({ afterSeq, upToSeq, limit: SUMMARY_MAX_NAMES });
  return {
    rows: span?.rows ?? 0,
    sources,
    sourceCount: span?.sources ?? 0,
    principals,
    principalCount: span?.principals ?? 0,
    firstReceivedAtMs: span?.first ?? undefined,
    lastReceivedAtMs: span?.last ?? undefined,
  };
}

/** The feedback snapshot (highest seq) a version was trained on, from its run; 0 when unknown. */
export function trainedFeedbackUpTo(db: StoreDatabase, runId: string): number {
  return (
    db
      .prepare<[string], number>("SELECT feedback_up_to FROM retrain_runs WHERE run_id = ?")
      .pluck()
      .get(runId) ?? 0
  );
}
