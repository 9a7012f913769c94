import { FEATURE_COUNT } from "../../shared/features/feature-schema.js";
import { DEFAULT_SITE } from "../../shared/sites/site-name.js";
import { decodeFeatureBlob, decodeFeatureBlobInto, encodeFeatureBlob } from "./feature-blob.js";
import type { StoreDatabase } from "./sqlite-store.js";

/** liver.v1.FeedbackVerdict numbers that can be stored (UNSPECIFIED never is). */
export type StoredVerdict = 1 | 2 | 3;

/**
 * Where a feedback row stands: 'trained' (labelled, trains), 'quarantined' (labelled, held
 * back by screening until an operator releases it), 'excluded' (an operator took it out),
 * 'unlabelled' (a don't-know verdict: never trains).
 */
export type FeedbackState = "trained" | "quarantined" | "excluded" | "unlabelled";

/** The states a new feedback can be stored in (only an operator excludes). */
export type NewFeedbackState = Exclude<FeedbackState, "excluded">;

/** A verified feedback ready to store; the label is null for "don't know". */
export interface NewFeedback {
  readonly feedbackId: string;
  readonly predictionId: string;
  readonly verdict: StoredVerdict;
  /** 1 liver disease, 0 none; null when the verdict is UNKNOWN (never trains). */
  readonly label: 0 | 1 | null;
  readonly features: Float64Array;
  /** liver.v1.Diagnosis number the model answered. */
  readonly predictedDiagnosis: number;
  readonly probability: number;
  readonly modelVersion: string;
  readonly issuedAtMs: number;
  readonly receivedAtMs: number;
  /** The peer address as the gRPC server saw it (host:port). */
  readonly peer: string;
  /** The client address a trusted gateway forwarded; '' when none or not trusted. */
  readonly clientAddress: string;
  /** The authenticated caller, "issuer|subject"; '' while callers do not authenticate. */
  readonly principal: string;
  /** The key per-source limits and review filters use: principal, else client address, else peer host. */
  readonly source: string;
  /** The site the prediction was made for (from its signed token); omitted: the default site. */
  readonly site?: string | undefined;
  readonly state: NewFeedbackState;
  /** Why screening quarantined it; '' otherwise. */
  readonly stateReason: string;
}

/** What happened to one feedback of a batch. */
export type InsertOutcome =
  | { readonly stored: true; readonly seq: number; readonly feedbackId: string }
  | {
      readonly stored: false;
      readonly feedbackId: string;
      /** The earlier feedback's state and reason, so a repeat is told where its verdict stands. */
      readonly state: FeedbackState;
      readonly stateReason: string;
    };

/** Feedback counts by verdict. */
export interface VerdictCounts {
  correct: number;
  wrong: number;
  unknown: number;
}

/** A stored feedback, as the export and the review read it. */
export interface StoredFeedback extends Omit<NewFeedback, "state"> {
  readonly seq: number;
  readonly state: FeedbackState;
  /** When an operator or screening last changed the state; undefined when never changed. */
  readonly stateChangedAtMs: number | undefined;
}

/** Labelled feedback as training rows (row-major features, 0/1 labels). */
export interface LabelledRows {
  readonly rows: number;
  readonly features: Float64Array;
  readonly labels: Uint8Array;
  /** Each row's source, parallel to labels, so training can cap one source's influence. */
  readonly sources: string[];
  /** Each row's site, parallel to labels: its feedback calibrates that site only (omitted: all default). */
  readonly sites?: string[] | undefined;
}

/** A feedback table row as SQLite returns it (SELECT *). */
export interface FeedbackRow {
  seq: number;
  feedback_id: string;
  prediction_id: string;
  verdict: number;
  label: number | null;
  features: Buffer;
  predicted_diagnosis: number;
  probability: number;
  model_version: string;
  issued_at_ms: number;
  received_at_ms: number;
  peer: string;
  client_address: string;
  principal: string;
  source: string;
  state: string;
  state_reason: string;
  state_changed_at_ms: number | null;
}

/**
 * The feedback table: one row per prediction, labelled or not. A prediction is identified
 * by its id and issue time, both from its signed token, and the pair is UNIQUE, so a
 * repeat can never be stored twice, whatever the caller's timing.
 */
/** What is stored for a prediction's feedback: its id and the state it was stored in. */
export interface StoredFeedbackOutcome {
  readonly feedbackId: string;
  readonly state: FeedbackState;
  readonly stateReason: string;
}

export class FeedbackStore {
  private readonly insert;
  private readonly existing;
  private readonly insertBatch;

  constructor(private readonly db: StoreDatabase) {
    this.insert = db.prepare<
      [
        string,
        string,
        number,
        number | null,
        Buffer,
        number,
        number,
        string,
        number,
        number,
        string,
        string,
        string,
        string,
        string,
        string,
        string,
      ]
    >(
      `INSERT INTO feedback (feedback_id, prediction_id, verdict, label, features, predicted_diagnosis,
         probability, model_version, issued_at_ms, received_at_ms, peer, client_address, principal,
         source, state, state_reason, site)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (issued_at_ms, prediction_id) DO NOTHING`,
    );
    this.existing = db.prepare<
      [number, string],
      { feedback_id: string; state: string; state_reason: string }
    >("SELECT feedback_id, state, state_reason FROM feedback WHERE issued_at_ms = ? AND prediction_id = ?");
    this.insertBatch = db.transaction((entries: readonly NewFeedback[]): InsertOutcome[] =>
      entries.map((entry) => this.insertOne(entry)),
    );
  }

  /**
   * Stores a batch in one transaction (one fsync for all of them: the group commit). A
   * feedback whose prediction already has one is not stored and reports the earlier id.
   */
  insertMany(entries: readonly NewFeedback[]): InsertOutcome[] {
    return this.insertBatch.immediate(entries);
  }

  private insertOne(entry: NewFeedback): InsertOutcome {
    const issuedAtMs = Math.round(entry.issuedAtMs);
    const result = this.insert.run(
      entry.feedbackId,
      entry.predictionId,
      entry.verdict,
      entry.label,
      encodeFeatureBlob(entry.features),
      entry.predictedDiagnosis,
      entry.probability,
      entry.modelVersion,
      issuedAtMs,
      Math.round(entry.receivedAtMs),
      entry.peer,
      entry.clientAddress,
      entry.principal,
      entry.source,
      entry.label === null ? "unlabelled" : entry.state,
      entry.stateReason,
      entry.site ?? DEFAULT_SITE,
    );
    if (result.changes === 1) {
      return { stored: true, seq: Number(result.lastInsertRowid), feedbackId: entry.feedbackId };
    }
    const earlier = this.existing.get(issuedAtMs, entry.predictionId);
    if (earlier === undefined) {
      throw new Error(`feedback for prediction ${entry.predictionId} was neither stored nor found`);
    }
    return {
      stored: false,
      feedbackId: earlier.feedback_id,
      state: earlier.state as FeedbackState,
      stateReason: earlier.state_reason,
    };
  }

  /** Counts by verdict since the store was created. */
  counts(): VerdictCounts {
    const rows = this.db
      .prepare<[], { verdict: number; n: number }>(
        "SELECT verdict, COUNT(*) AS n FROM feedback GROUP BY verdict",
      )
      .all();
    const counts: VerdictCounts = { correct: 0, wrong: 0, unknown: 0 };
    for (const { verdict, n } of rows) {
      if (verdict === 1) counts.correct = n;
      else if (verdict === 2) counts.wrong = n;
      else counts.unknown = n;
    }
    return counts;
  }

  /** Sequence number of the newest feedback that trains; 0 when there is none. */
  maxLabelledSeq(): number {
    return (
      this.db
        .prepare<[], number>("SELECT seq FROM feedback WHERE state = 'trained' ORDER BY seq DESC LIMIT 1")
        .pluck()
        .get() ?? 0
    );
  }

  /** Feedbacks that train with afterSeq < seq <= upToSeq. */
  labelledCountBetween(afterSeq: number, upToSeq = Number.MAX_SAFE_INTEGER): number {
    return (
      this.db
        .prepare<[number, number], number>(
          "SELECT COUNT(*) FROM feedback WHERE state = 'trained' AND seq > ? AND seq <= ?",
        )
        .pluck()
        .get(afterSeq, upToSeq) ?? 0
    );
  }

  /**
   * Every feedback that trains (state 'trained': quarantined, excluded and unlabelled rows
   * never do) up to upToSeq, as training rows in arrival order.
   */
  labelledRows(upToSeq: number): LabelledRows {
    const rows = this.db
      .prepare<[number], { features: Buffer; label: number; source: string; site: string }>(
        "SELECT features, label, source, site FROM feedback WHERE state = 'trained' AND seq <= ? ORDER BY seq",
      )
      .all(upToSeq);
    const features = new Float64Array(rows.length * FEATURE_COUNT);
    const labels = new Uint8Array(rows.length);
    const sources: string[] = [];
    const sites: string[] = [];
    rows.forEach((row, i) => {
      decodeFeatureBlobInto(row.features, features, i);
      labels[i] = row.label;
      sources.push(row.source);
      sites.push(row.site);
    });
    return { rows: rows.length, features, labels, sources, sites };
  }

  /**
   * Received times of labelled feedback (trained, quarantined or excluded) since sinceMs,
   * by source, oldest first: what the per-source hourly limit counts at start.
   */
  labelledReceivedSince(sinceMs: number): { source: string; receivedAtMs: number }[] {
    return this.db
      .prepare<[number], { source: string; receivedAtMs: number }>(
        `SELECT source, received_at_ms AS receivedAtMs FROM feedback
         WHERE received_at_ms >= ? AND label IS NOT NULL ORDER BY received_at_ms`,
      )
      .all(sinceMs);
  }

  /**
   * The id and state stored for a prediction's feedback, if any: an indexed lookup by the
   * pair the table is unique on, cheap enough for the request path.
   */
  storedFeedback(issuedAtMs: number, predictionId: string): StoredFeedbackOutcome | undefined {
    const row = this.existing.get(Math.round(issuedAtMs), predictionId);
    return row === undefined
      ? undefined
      : { feedbackId: row.feedback_id, state: row.state as FeedbackState, stateReason: row.state_reason };
  }

  /** The feedback for a prediction, if any (a table scan: for tests and tools, not the request path). */
  byPredictionId(predictionId: string): StoredFeedback | undefined {
    const row = this.db
      .prepare<[string], FeedbackRow>("SELECT * FROM feedback WHERE prediction_id = ?")
      .get(predictionId);
    return row === undefined ? undefined : toStored(row);
  }

  /** Every feedback in arrival order, streamed so an export never holds them all. */
  *all(): Generator<StoredFeedback> {
    const rows = this.db.prepare<[], FeedbackRow>("SELECT * FROM feedback ORDER BY seq").iterate();
    for (const row of rows) yield toStored(row);
  }
}

/** A feedback table row as the store's callers see it. */
export function toStored(row: FeedbackRow): StoredFeedback {
  return {
    seq: row.seq,
    feedbackId: row.feedback_id,
    predictionId: row.prediction_id,
    verdict: row.verdict as StoredVerdict,
    label: row.label === null ? null : row.label === 1 ? 1 : 0,
    features: decodeFeatureBlob(row.features),
    predictedDiagnosis: row.predicted_diagnosis,
    probability: row.probability,
    modelVersion: row.model_version,
    issuedAtMs: row.issued_at_ms,
    receivedAtMs: row.received_at_ms,
    peer: row.peer,
    clientAddress: row.client_address,
    principal: row.principal,
    source: row.source,
    state: row.state as FeedbackState,
    stateReason: row.state_reason,
    stateChangedAtMs: row.state_changed_at_ms ?? undefined,
  };
}
