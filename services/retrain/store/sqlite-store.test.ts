import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "../testing/retrain-fixtures.js";
import { integrityCheck, MIGRATIONS, openSqliteStore, type StoreDatabase } from "./sqlite-store.js";

/** The schema version this build writes (migration numbers may have gaps). */
const LATEST = MIGRATIONS.at(-1)?.version ?? 0;

/**
 * A feedback row written with SQL alone, in the columns every schema version has (issued at
 * 1 ms), so migrations can be tested on rows no FeedbackStore of that version wrote.
 */
function insertFeedbackRow(
  db: StoreDatabase,
  feedbackId: string,
  predictionId: string,
  verdict: number,
  label: number,
): void {
  db.prepare(
    `INSERT INTO feedback (feedback_id, prediction_id, verdict, label, features, predicted_diagnosis,
       probability, model_version, issued_at_ms, received_at_ms)
     VALUES (?, ?, ?, ?, zeroblob(80), 1, 0.9, 'v1', 1, 2)`,
  ).run(feedbackId, predictionId, verdict, label);
}

describe("openSqliteStore", () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  function storeFile(): string {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    return path.join(tmp.dir, "nested", "retrain.sqlite");
  }

  it("creates the file with WAL, synchronous=FULL and every migration applied", () => {
    const file = storeFile();
    const db = openSqliteStore(file);
    try {
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
      // 2 = FULL: a commit is fsynced before better-sqlite3 returns.
      expect(db.pragma("synchronous", { simple: true })).toBe(2);
      expect(db.pragma("user_version", { simple: true })).toBe(MIGRATIONS.at(-1)?.version);
      const tables = db
        .prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .pluck()
        .all();
      expect(tables).toEqual(
        expect.arrayContaining([
          "feedback",
          "model_versions",
          "original_dataset",
          "original_samples",
          "retrain_runs",
        ]),
      );
      expect(integrityCheck(db)).toEqual(["ok"]);
    } finally {
      db.close();
    }
  });

  it("reopens an existing store without re-running migrations", () => {
    const file = storeFile();
    openSqliteStore(file).close();
    const db = openSqliteStore(file);
    try {
      expect(db.pragma("user_version", { simple: true })).toBe(LATEST);
    } finally {
      db.close();
    }
  });

  it("migrates a version-1 store to the current schema, keeping its feedback", () => {
    const file = storeFile();
    mkdirSync(path.dirname(file), { recursive: true });
    const raw = new Database(file);
    raw.pragma("journal_mode = WAL");
    raw.exec(MIGRATIONS[0]?.sql ?? "");
    raw.pragma("user_version = 1");
    insertFeedbackRow(raw, "f-1", "p-1", 2, 0);
    raw.close();
    const db = openSqliteStore(file);
    try {
      expect(db.pragma("user_version", { simple: true })).toBe(LATEST);
      expect(
        db.prepare("SELECT seq, feedback_id, prediction_id, verdict, label FROM feedback").all(),
      ).toEqual([{ seq: 1, feedback_id: "f-1", prediction_id: "p-1", verdict: 2, label: 0 }]);
      const indexes = db
        .prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'feedback'")
        .pluck()
        .all();
      expect(indexes.sort()).toEqual([
        "feedback_received",
        "feedback_source",
        "feedback_state",
        "sqlite_autoindex_feedback_1",
      ]);
      expect(() => insertFeedbackRow(db, "f-2", "p-1", 1, 1)).toThrow(
        /UNIQUE constraint failed: feedback.issued_at_ms, feedback.prediction_id/,
      );
      expect(integrityCheck(db)).toEqual(["ok"]);
    } finally {
      db.close();
    }
  });

  it("migrates a version-3 store to attribution and review state: labelled rows train, don't-know rows never", () => {
    const file = storeFile();
    mkdirSync(path.dirname(file), { recursive: true });
    const raw = new Database(file);
    raw.pragma("journal_mode = WAL");
    for (const migration of MIGRATIONS.filter((m) => m.version <= 3)) raw.exec(migration.sql);
    raw.pragma("user_version = 3");
    insertFeedbackRow(raw, "f-1", "p-1", 2, 0);
    raw
      .prepare(
        `INSERT INTO feedback (feedback_id, prediction_id, verdict, label, features, predicted_diagnosis,
           probability, model_version, issued_at_ms, received_at_ms)
         VALUES ('f-2', 'p-2', 3, NULL, zeroblob(80), 1, 0.9, 'v1', 1, 2)`,
      )
      .run();
    raw.close();
    const db = openSqliteStore(file);
    try {
      expect(
        db
          .prepare(
            "SELECT feedback_id, state, state_reason, source, peer, client_address, principal FROM feedback ORDER BY seq",
          )
          .all(),
      ).toEqual([
        {
          feedback_id: "f-1",
          state: "trained",
          state_reason: "",
          source: "",
          peer: "",
          client_address: "",
          principal: "",
        },
        {
          feedback_id: "f-2",
          state: "unlabelled",
          state_reason: "",
          source: "",
          peer: "",
          client_address: "",
          principal: "",
        },
      ]);
      expect(db.prepare("SELECT COUNT(*) AS n FROM feedback_audit").get()).toEqual({ n: 0 });
      expect(() => db.prepare("UPDATE feedback SET state = 'gone' WHERE seq = 1").run()).toThrow(
        /CHECK constraint/,
      );
      expect(integrityCheck(db)).toEqual(["ok"]);
    } finally {
      db.close();
    }
  });

  it("refuses a store written by a newer build, naming both schema versions", () => {
    const file = storeFile();
    openSqliteStore(file).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${LATEST + 5}`);
    raw.close();
    expect(() => openSqliteStore(file)).toThrow(
      new RegExp(`schema version ${LATEST + 5}, newer than this build's ${LATEST}`),
    );
  });

  it("opens read-only connections that cannot write", () => {
    const file = storeFile();
    openSqliteStore(file).close();
    const db = openSqliteStore(file, { readonly: true });
    try {
      expect(() => db.prepare("DELETE FROM feedback").run()).toThrow(/readonly|read-only|query_only/i);
    } finally {
      db.close();
    }
  });
});
