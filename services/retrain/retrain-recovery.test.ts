import { cpSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import Database from "better-sqlite3";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelVersionStatus } from "../gen/liver/v1/model.js";
import { FeedbackVerdict, RetrainOutcome } from "../gen/liver/v1/retrain_service.js";
import type { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import { testHealthCheck } from "../shared/testing/test-tls.js";
import { storeFilePath, type RetrainConfig } from "./retrain-config.js";
import { startRetrainServer, type RetrainServerHandle } from "./retrain-server.js";
import { RunLog } from "./store/run-log.js";
import { bearer, expectStatus, failure, retrainClient, unary } from "./testing/retrain-clients.js";
import {
  PERMISSIVE_GATE_POLICY,
  prediction,
  tempDir,
  testConfig,
  testSigner,
} from "./testing/retrain-fixtures.js";
import { WorkerTrainer } from "./training-worker.js";

const silent = pino({ level: "silent" });
const ADMIN_TOKEN = "recovery-admin-token-0123456789";

/** Starts a server on the shared folder with the real worker trainer. */
async function start(config: RetrainConfig): Promise<RetrainServerHandle> {
  const trainer = WorkerTrainer.forConfig(config, silent);
  const server = await startRetrainServer(config, silent, {
    trainer,
    syntheticRows: 1200,
    defaultMetrics: false,
  });
  await server.scheduler.whenIdle();
  return server;
}

describe("RetrainService restart recovery and the quality gate", () => {
  /** The store the first life left behind; each test recovers from its own copy. */
  let template: ReturnType<typeof tempDir>;
  let key: Buffer;
  let signer: FeedbackTokenSigner;
  let base: RetrainConfig;
  const labelled: string[] = [];
  const copies: ReturnType<typeof tempDir>[] = [];

  /** A configuration on a fresh copy of the crashed store. */
  const crashedCopy = (): RetrainConfig => {
    const copy = tempDir();
    copies.push(copy);
    cpSync(template.dir, copy.dir, { recursive: true });
    return testConfig(copy.dir, key, { adminToken: ADMIN_TOKEN });
  };

  /** The second life: every candidate must beat the serving AUC by 1.0, which none can. */
  const startRejectingAll = (config: RetrainConfig) =>
    start({ ...config, minBatch: 1, gatePolicy: { ...PERMISSIVE_GATE_POLICY, servingTolerance: -1 } });

  beforeAll(async () => {
    template = tempDir();
    const keys = testSigner();
    key = keys.key;
    signer = keys.signer;
    base = testConfig(template.dir, keys.key, { adminToken: ADMIN_TOKEN });
    // First life: v1 is trained, then feedback arrives that (by the minimum batch) does not train yet.
    const first = await start({ ...base, minBatch: 1_000_000 });
    const client = retrainClient(first.port);
    try {
      for (let i = 0; i < 5; i++) {
        const record = prediction({ diagnosis: i % 2 === 0 ? 1 : 2 });
        labelled.push(record.predictionId);
        const ack = await unary(client.submitFeedback.bind(client), {
          feedbackToken: signer.sign(record),
          verdict: FeedbackVerdict.FEEDBACK_VERDICT_CORRECT,
        });
        expect(ack.retrainScheduled).toBe(false);
      }
      await unary(client.submitFeedback.bind(client), {
        feedbackToken: signer.sign(prediction()),
        verdict: FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN,
      });
      expect((await unary(client.getRetrainStatus.bind(client), {})).pendingLabelledFeedback).toBe(5);
    } finally {
      client.close();
      await first.close();
    }
    // The process "dies" mid-run: a run row left open, a published but unregistered v2
    // folder, and a half-written temporary folder.
    const db = new Database(storeFilePath(base));
    new RunLog(db).start({
      runId: "crashed-run",
      trigger: "feedback",
      reason: "",
      startedAtMs: Date.now() - 1000,
      feedbackUpTo: 5,
      feedbackRows: 5,
    });
    db.close();
    mkdirSync(path.join(base.modelPath, "v2"));
    writeFileSync(path.join(base.modelPath, "v2", "manifest.json"), "{}");
    mkdirSync(path.join(base.modelPath, ".v2.tmp-123-abcdef"));
  });

  afterAll(() => {
    for (const copy of copies) copy.remove();
    template.remove();
  });

  it("marks the interrupted run failed, retrains the pending feedback, and the gate rejects a worse candidate", async () => {
    const config = crashedCopy();
    const second = await startRejectingAll(config);
    const client = retrainClient(second.port);
    try {
      expect(await testHealthCheck(`127.0.0.1:${second.port}`)).toBe("SERVING");
      const registry = await unary(client.listModelVersions.bind(client), {});
      expect(registry.modelVersion).toBe("v1");
      expect(registry.versions.map((v) => [v.modelVersion, v.status])).toEqual([
        ["v2", ModelVersionStatus.MODEL_VERSION_STATUS_REJECTED],
        ["v1", ModelVersionStatus.MODEL_VERSION_STATUS_SERVING],
      ]);
      const rejected = registry.versions[0];
      expect(rejected?.reason).toMatch(
        /rejected by the gate on holdout lab-profile-v1 .*serving: ROC AUC .* vs serving v1's .* on the same rows/,
      );
      // All 5 pending verdicts were covered; base training takes each site's feedback at the
      // prevalence the reference expects (a per-site intercept), so some sit out.
      expect(rejected?.rowCounts?.feedbackRows).toBeGreaterThan(0);
      expect(rejected?.rowCounts?.feedbackRows).toBeLessThanOrEqual(5);
      expect(rejected?.parentVersion).toBe("v1");
      expect(rejected?.promotedAt).toBeUndefined();

      const report = await unary(client.getRetrainStatus.bind(client), {});
      expect(report.pendingLabelledFeedback).toBe(0);
      expect(report.counts).toEqual({ correct: 5, wrong: 0, unknown: 1 });
      expect(report.lastRun).toMatchObject({
        trigger: "recovery",
        outcome: RetrainOutcome.RETRAIN_OUTCOME_REJECTED,
        modelVersion: "v2",
        feedbackRows: 5,
      });
      expect(report.lastRun?.error).toMatch(/rejected by the gate/);

      const db = new Database(storeFilePath(config), { readonly: true });
      const crashed = new RunLog(db).list().find((r) => r.runId === "crashed-run");
      db.close();
      expect(crashed?.outcome).toBe("failed");
      expect(crashed?.error).toMatch(/^interrupted: the RetrainService stopped during the run/);

      // The rejected candidate is stored (its artifact can be fetched) but can never serve.
      const files = await unary(client.getModelArtifact.bind(client), { modelVersion: "v2" });
      expect(files.sha256).toBe(rejected?.sha256);
      const refused = await failure(
        unary(client.rollbackModel.bind(client), { modelVersion: "v2", reason: "" }, bearer(ADMIN_TOKEN)),
      );
      expectStatus(refused, status.FAILED_PRECONDITION, /v2 was rejected by the quality gate/);
      expect(readdirSync(config.modelPath).sort()).toEqual(["v1", "v2"]);
    } finally {
      client.close();
      await second.close();
    }
  });

  it("serves the registry's version right away after a clean restart and has nothing to retrain", async () => {
    const config = crashedCopy();
    const second = await startRejectingAll(config);
    await second.close();
    const third = await start({ ...config, minBatch: 1 });
    const client = retrainClient(third.port);
    try {
      expect(await testHealthCheck(`127.0.0.1:${third.port}`)).toBe("SERVING");
      const report = await unary(client.getRetrainStatus.bind(client), {});
      expect(report).toMatchObject({ modelVersion: "v1", pendingLabelledFeedback: 0 });
      expect(report.lastRun?.trigger).toBe("recovery");
      expect((await unary(client.listModelVersions.bind(client), {})).versions).toHaveLength(2);
    } finally {
      client.close();
      await third.close();
    }
  });
});
