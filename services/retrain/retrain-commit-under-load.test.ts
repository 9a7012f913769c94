import path from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FeedbackCommitThread } from "./feedback-commit-thread.js";
import { RetrainMetrics } from "./retrain-metrics.js";
import { RetrainRunner } from "./retrain-runner.js";
import { FeedbackStore, type NewFeedback } from "./store/feedback-store.js";
import { ModelRegistry } from "./store/model-registry.js";
import { RunLog, type RunOutcome } from "./store/run-log.js";
import { openSqliteStore, type StoreDatabase } from "./store/sqlite-store.js";
import { instantTrainer } from "./testing/instant-trainer.js";
import { newFeedback, PERMISSIVE_GATE_POLICY, tempDir } from "./testing/retrain-fixtures.js";

const silent = pino({ level: "silent" });
/** Verdicts written by the commit thread while runs commit. */
const VERDICTS = 2_000;
/** Small batches: many commits on the other connection, so runs meet them often. */
const BATCH = 20;

describe("a retrain commit under feedback load", () => {
  let tmp: ReturnType<typeof tempDir>;
  let storeFile: string;
  let db: StoreDatabase;
  let thread: FeedbackCommitThread;

  beforeEach(async () => {
    tmp = tempDir("retrain-busy-");
    storeFile = path.join(tmp.dir, "retrain.sqlite");
    db = openSqliteStore(storeFile);
    thread = new FeedbackCommitThread(storeFile, silent);
    await thread.start();
  });

  afterEach(async () => {
    await thread.close();
    db.close();
    tmp.remove();
  });

  it(
    "never fails with database is locked while thousands of verdicts are committed",
    { timeout: 240_000 },
    async () => {
      const registry = new ModelRegistry(db);
      const outcomes: RunOutcome[] = [];
      const errors: string[] = [];
      const runLog = new RunLog(db);
      const runner = new RetrainRunner({
        db,
        registry,
        runLog,
        feedback: new FeedbackStore(db),
        trainer: instantTrainer,
        modelPath: path.join(tmp.dir, "models"),
        gatePolicy: PERMISSIVE_GATE_POLICY,
        metrics: new RetrainMetrics({ defaultMetrics: false }),
        logger: silent,
        onPromoted: () => undefined,
        onRunFinished: (outcome) => outcomes.push(outcome),
      });

      let written = 0;
      const writer = { failed: false };
      const writing = (async () => {
        while (written < VERDICTS) {
          const batch: NewFeedback[] = [];
          for (let i = 0; i < BATCH; i++)
            batch.push(newFeedback({ issuedAtMs: 1_700_000_000_000 + written + i }));
          await thread.insertMany(batch);
          written += BATCH;
        }
      })().catch((error: unknown) => {
        writer.failed = true;
        throw error;
      });
      // Runs commit one after another for as long as the verdicts are being written.
      while (written < VERDICTS && !writer.failed) {
        const started = runner.start("feedback", "load test");
        await started.completion;
        // The trainer is instant: let the commit thread's replies in between runs.
        await new Promise((resolve) => setImmediate(resolve));
      }
      await writing;

      for (const run of runLog.list(100_000)) if (run.error !== "") errors.push(run.error);
      expect(errors).toEqual([]);
      expect(outcomes.length).toBeGreaterThan(10);
      expect(outcomes.filter((outcome) => outcome === "failed")).toEqual([]);
      expect(new FeedbackStore(db).maxLabelledSeq()).toBe(VERDICTS);
    },
  );
});
