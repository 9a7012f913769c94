import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";

/** The open SQLite connection every store module shares. */
export type StoreDatabase = Database.Database;

/** One schema step; applied once, in order, inside a transaction. */
export interface Migration {
  /** 1, 2, 3, ...: the PRAGMA user_version after this step. */
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

/**
 * The schema history. Append new steps; never edit an applied one, since stores in the
 * field already carry it. Feature vectors are BLOBs of FEATURE_COUNT little-endian float64
 * in schema order, so a row costs 80 bytes and loads without parsing.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "original samples, feedback, model registry, retrain runs",
    sql: `
      CREATE TABLE original_dataset (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        source TEXT NOT NULL CHECK (source IN ('real', 'synthetic')),
        description TEXT NOT NULL,
        row_count INTEGER NOT NULL,
        imported_at_ms INTEGER NOT NULL
      );
      CREATE TABLE original_samples (
        seq INTEGER PRIMARY KEY,
        features BLOB NOT NULL,
        label INTEGER NOT NULL CHECK (label IN (0, 1))
      );
      CREATE TABLE feedback (
        seq INTEGER PRIMARY KEY,
        feedback_id TEXT NOT NULL UNIQUE,
        prediction_id TEXT NOT NULL UNIQUE,
        verdict INTEGER NOT NULL CHECK (verdict IN (1, 2, 3)),
        label INTEGER CHECK (label IN (0, 1)),
        features BLOB NOT NULL,
        predicted_diagnosis INTEGER NOT NULL,
        probability REAL NOT NULL,
        model_version TEXT NOT NULL,
        issued_at_ms INTEGER NOT NULL,
        received_at_ms INTEGER NOT NULL
      );
      CREATE INDEX feedback_labelled ON feedback (seq) WHERE label IS NOT NULL;
      CREATE TABLE model_versions (
        seq INTEGER PRIMARY KEY,
        model_version TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL CHECK (status IN ('serving', 'retired', 'rejected')),
        metrics_json TEXT NOT NULL,
        roc_auc REAL NOT NULL,
        original_rows INTEGER NOT NULL,
        feedback_rows INTEGER NOT NULL,
        holdout_rows INTEGER NOT NULL,
        parent_version TEXT,
        reason TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        promoted_at_ms INTEGER,
        sha256 TEXT NOT NULL,
        synthetic INTEGER NOT NULL CHECK (synthetic IN (0, 1)),
        run_id TEXT NOT NULL
      );
      CREATE UNIQUE INDEX model_versions_one_serving ON model_versions (status) WHERE status = 'serving';
      CREATE TABLE retrain_runs (
        seq INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL UNIQUE,
        trigger TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        started_at_ms INTEGER NOT NULL,
        finished_at_ms INTEGER,
        outcome TEXT CHECK (outcome IN ('promoted', 'rejected', 'failed')),
        model_version TEXT,
        error TEXT NOT NULL DEFAULT '',
        feedback_up_to INTEGER NOT NULL,
        feedback_rows INTEGER NOT NULL
      );
      CREATE INDEX retrain_runs_unfinished ON retrain_runs (seq) WHERE outcome IS NULL;
    `,
  },
  {
    version: 2,
    description: "feedback without the feedback_id and labelled-seq indexes (group-commit speed)",
    // Each index on a random key dirties another page per inserted row; measured, the two
    // dropped here doubled the cost of a feedback insert. Nothing looks feedback up by
    // feedback_id (a random UUID, unique by construction), and the labelled-feedback
    // queries are rowid range scans that need no index.
    sql: `
      CREATE TABLE feedback_v2 (
        seq INTEGER PRIMARY KEY,
        feedback_id TEXT NOT NULL,
        prediction_id TEXT NOT NULL UNIQUE,
        verdict INTEGER NOT NULL CHECK (verdict IN (1, 2, 3)),
        label INTEGER CHECK (label IN (0, 1)),
        features BLOB NOT NULL,
        predicted_diagnosis INTEGER NOT NULL,
        probability REAL NOT NULL,
        model_version TEXT NOT NULL,
        issued_at_ms INTEGER NOT NULL,
        received_at_ms INTEGER NOT NULL
      );
      INSERT INTO feedback_v2 (seq, feedback_id, prediction_id, verdict, label, features, predicted_diagnosis,
          probability, model_version, issued_at_ms, received_at_ms)
        SELECT seq, feedback_id, prediction_id, verdict, label, features, predicted_diagnosis,
          probability, model_version, issued_at_ms, received_at_ms
        FROM feedback;
      DROP TABLE feedback;
      ALTER TABLE feedback_v2 RENAME TO feedback;
    `,
  },
  {
    version: 3,
    description: "feedback unique by (issued_at_ms, prediction_id): appends instead of random index writes",
    // Prediction ids are random UUIDs, so a unique index on them alone puts each row of a
    // group commit on a different index page: a 32-row commit wrote ~32 scattered pages and
    // took 2 to 4 times as long (measured, 50k rows). Both values come from the signed token
    // and belong to one prediction, so the pair is exactly as unique as the id, and it
    // arrives in time order: inserts append at the index's right edge.
    sql: `
      CREATE TABLE feedback_v3 (
        seq INTEGER PRIMARY KEY,
        feedback_id TEXT NOT NULL,
        prediction_id TEXT NOT NULL,
        verdict INTEGER NOT NULL CHECK (verdict IN (1, 2, 3)),
        label INTEGER CHECK (label IN (0, 1)),
        features BLOB NOT NULL,
        predicted_diagnosis INTEGER NOT NULL,
        probability REAL NOT NULL,
        model_version TEXT NOT NULL,
        issued_at_ms INTEGER NOT NULL,
        received_at_ms INTEGER NOT NULL,
        UNIQUE (issued_at_ms, prediction_id)
      );
      INSERT INTO feedback_v3 (seq, feedback_id, prediction_id, verdict, label, features, predicted_diagnosis,
          probability, model_version, issued_at_ms, received_at_ms)
        SELECT seq, feedback_id, prediction_id, verdict, label, features, predicted_diagnosis,
          probability, model_version, issued_at_ms, received_at_ms
        FROM feedback;
      DROP TABLE feedback;
      ALTER TABLE feedback_v3 RENAME TO feedback;
    `,
  },
  {
    version: 4,
    description: "feedback attribution (peer, client address, principal, source), review state, audit log",
    // Every row says where it came from and whether it trains: 'trained' (labelled, in
    // training), 'quarantined' (labelled, held back by screening until an operator releases
    // it), 'excluded' (an operator took it out), 'unlabelled' (don't-know: never trains).
    // The indexes serve the review filters and the per-source hourly count at start; their
    // keys grow with time or repeat a few values, so inserts stay near each index's end.
    sql: `
      ALTER TABLE feedback ADD COLUMN peer TEXT NOT NULL DEFAULT '';
      ALTER TABLE feedback ADD COLUMN client_address TEXT NOT NULL DEFAULT '';
      ALTER TABLE feedback ADD COLUMN principal TEXT NOT NULL DEFAULT '';
      ALTER TABLE feedback ADD COLUMN source TEXT NOT NULL DEFAULT '';
      ALTER TABLE feedback ADD COLUMN state TEXT NOT NULL DEFAULT 'trained'
        CHECK (state IN ('trained', 'quarantined', 'excluded', 'unlabelled'));
      ALTER TABLE feedback ADD COLUMN state_reason TEXT NOT NULL DEFAULT '';
      ALTER TABLE feedback ADD COLUMN state_changed_at_ms INTEGER;
      UPDATE feedback SET state = 'unlabelled' WHERE label IS NULL;
      CREATE INDEX feedback_received ON feedback (received_at_ms);
      CREATE INDEX feedback_source ON feedback (source, received_at_ms);
      CREATE INDEX feedback_state ON feedback (state, seq);
      CREATE TABLE feedback_audit (
        seq INTEGER PRIMARY KEY,
        at_ms INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('exclude', 'release')),
        selector_json TEXT NOT NULL,
        reason TEXT NOT NULL,
        affected INTEGER NOT NULL,
        affected_ids_json TEXT NOT NULL,
        affected_min_seq INTEGER,
        affected_max_seq INTEGER
      );
    `,
  },
  {
    version: 5,
    description:
      "model versions say which holdout their figures were measured on, the gate's rules and the recalibration",
    // Earlier versions were scored on the row-level split ("row-v1"); RetrainService
    // re-scores the serving one on the current holdout at start and records it here.
    sql: `
      ALTER TABLE model_versions ADD COLUMN holdout_scheme TEXT NOT NULL DEFAULT 'row-v1';
      ALTER TABLE model_versions ADD COLUMN holdout_fingerprint TEXT NOT NULL DEFAULT '';
      ALTER TABLE model_versions ADD COLUMN gate_checks_json TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE model_versions ADD COLUMN calibration_json TEXT NOT NULL DEFAULT '';
    `,
  },
  {
    version: 6,
    description:
      "candidates may wait for an admin's approval (status 'pending'), with the served-answer evidence and the decision",
    // SQLite cannot change a CHECK constraint in place: the table is rebuilt with the same rows.
    sql: `
      CREATE TABLE model_versions_v6 (
        seq INTEGER PRIMARY KEY,
        model_version TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL CHECK (status IN ('serving', 'retired', 'rejected', 'pending')),
        metrics_json TEXT NOT NULL,
        roc_auc REAL NOT NULL,
        original_rows INTEGER NOT NULL,
        feedback_rows INTEGER NOT NULL,
        holdout_rows INTEGER NOT NULL,
        parent_version TEXT,
        reason TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        promoted_at_ms INTEGER,
        sha256 TEXT NOT NULL,
        synthetic INTEGER NOT NULL CHECK (synthetic IN (0, 1)),
        run_id TEXT NOT NULL,
        holdout_scheme TEXT NOT NULL DEFAULT 'row-v1',
        holdout_fingerprint TEXT NOT NULL DEFAULT '',
        gate_checks_json TEXT NOT NULL DEFAULT '[]',
        calibration_json TEXT NOT NULL DEFAULT '',
        approval_json TEXT NOT NULL DEFAULT '',
        approved_at_ms INTEGER,
        decision TEXT NOT NULL DEFAULT '' CHECK (decision IN ('', 'approved', 'rejected', 'superseded')),
        decided_by TEXT NOT NULL DEFAULT '',
        decision_reason TEXT NOT NULL DEFAULT '',
        decided_at_ms INTEGER
      );
      INSERT INTO model_versions_v6 (seq, model_version, status, metrics_json, roc_auc, original_rows,
          feedback_rows, holdout_rows, parent_version, reason, created_at_ms, promoted_at_ms, sha256,
          synthetic, run_id, holdout_scheme, holdout_fingerprint, gate_checks_json, calibration_json)
        SELECT seq, model_version, status, metrics_json, roc_auc, original_rows, feedback_rows,
          holdout_rows, parent_version, reason, created_at_ms, promoted_at_ms, sha256, synthetic, run_id,
          holdout_scheme, holdout_fingerprint, gate_checks_json, calibration_json
        FROM model_versions;
      DROP TABLE model_versions;
      ALTER TABLE model_versions_v6 RENAME TO model_versions;
      CREATE UNIQUE INDEX model_versions_one_serving ON model_versions (status) WHERE status = 'serving';
      CREATE UNIQUE INDEX model_versions_one_pending ON model_versions (status) WHERE status = 'pending';
      CREATE TABLE retrain_runs_v6 (
        seq INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL UNIQUE,
        trigger TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        started_at_ms INTEGER NOT NULL,
        finished_at_ms INTEGER,
        outcome TEXT CHECK (outcome IN ('promoted', 'rejected', 'failed', 'pending')),
        model_version TEXT,
        error TEXT NOT NULL DEFAULT '',
        feedback_up_to INTEGER NOT NULL,
        feedback_rows INTEGER NOT NULL
      );
      INSERT INTO retrain_runs_v6 SELECT seq, run_id, trigger, reason, started_at_ms, finished_at_ms,
          outcome, model_version, error, feedback_up_to, feedback_rows FROM retrain_runs;
      DROP TABLE retrain_runs;
      ALTER TABLE retrain_runs_v6 RENAME TO retrain_runs;
      CREATE INDEX retrain_runs_unfinished ON retrain_runs (seq) WHERE outcome IS NULL;
    `,
  },
  {
    version: 7,
    description:
      "feedback names the site its prediction was made for; versions keep their per-site calibrations",
    // Feedback from before sites existed was made for the one global calibration: the default site's.
    sql: `
      ALTER TABLE feedback ADD COLUMN site TEXT NOT NULL DEFAULT 'default';
      ALTER TABLE model_versions ADD COLUMN site_calibrations_json TEXT NOT NULL DEFAULT '';
    `,
  },
];

/**
 * How long a connection waits for another connection's write to finish before SQLITE_BUSY.
 * Several connections write (the gRPC thread's runs and reviews, the feedback commit
 * thread's batches); each holds the lock for one transaction, an fsync or two.
 */
export const STORE_BUSY_TIMEOUT_MS = 30_000;

/** Options of openSqliteStore. */
export interface OpenStoreOptions {
  /** Read-only connections (the training worker) skip migrations and never write. */
  readonly readonly?: boolean;
}

/**
 * Opens (creating when needed) the store: WAL so readers never block the writer, and
 * synchronous=FULL so a committed transaction survives kill -9 and power loss, which is
 * what SubmitFeedback promises before it acknowledges. Every transaction that writes
 * begins IMMEDIATE (`db.transaction(fn).immediate()`): a deferred one that read first
 * cannot wait for the write lock when another connection committed meanwhile, and fails
 * at once with SQLITE_BUSY ("database is locked") whatever the busy timeout.
 */
export function openSqliteStore(file: string, options: OpenStoreOptions = {}): StoreDatabase {
  if (options.readonly === true) {
    const db = new Database(file, { readonly: true, fileMustExist: true, timeout: STORE_BUSY_TIMEOUT_MS });
    db.pragma("query_only = ON");
    return db;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file, { timeout: STORE_BUSY_TIMEOUT_MS });
  try {
    const mode = db.pragma("journal_mode = WAL", { simple: true });
    if (mode !== "wal")
      throw new Error(`SQLite store ${file} refused WAL mode (journal_mode is ${String(mode)})`);
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    migrate(db, file);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** Applies every migration newer than the store's user_version, each in its own transaction. */
export function migrate(db: StoreDatabase, file = "the store"): number {
  const current = Number(db.pragma("user_version", { simple: true }));
  const latest = MIGRATIONS.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new Error(
      `${file} has schema version ${current}, newer than this build's ${latest}; run a newer RetrainService`,
    );
  }
  for (const migration of MIGRATIONS) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    }).immediate();
  }
  return latest;
}

/** PRAGMA integrity_check's lines: ["ok"] for a sound file. */
export function integrityCheck(db: StoreDatabase): string[] {
  return (db.pragma("integrity_check") as { integrity_check: string }[]).map((row) => row.integrity_check);
}
