import { Metadata, status } from "@grpc/grpc-js";
import Database from "better-sqlite3";
import { pino } from "pino";
import { cpSync } from "node:fs";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { GateRule, HoldoutScheme, ModelVersionStatus } from "../gen/liver/v1/model.js";
import {
  FeedbackState,
  FeedbackVerdict,
  ModelVersionEventKind,
  RetrainOutcome,
  RetrainState,
  RetrainTrigger,
  SubmitFeedbackRequest,
  type RetrainServiceClient,
  type WatchModelVersionsResponse,
} from "../gen/liver/v1/retrain_service.js";
import { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import { testHealthCheck } from "../shared/testing/test-tls.js";
import { verifyArtifactFiles } from "../shared/model/model-artifact.js";
import { storeFilePath, type RetrainConfig } from "./retrain-config.js";
import { startRetrainServer, type RetrainServerHandle } from "./retrain-server.js";
import type { RunOutcome } from "./store/run-log.js";
import { HoldableTrainer } from "./testing/holdable-trainer.js";
import { instantTrainer } from "./testing/instant-trainer.js";
import { bearer, expectStatus, failure, retrainClient, unary, watch } from "./testing/retrain-clients.js";
import { prediction, tempDir, testConfig, testSigner } from "./testing/retrain-fixtures.js";
import { parseTrustedAddresses } from "./feedback-attribution.js";
import { waitUntil } from "../predict/testing/wait-until.js";
import { openStalledWatch } from "./testing/stalled-watch.js";
import { WorkerTrainer } from "./training-worker.js";

const ADMIN_TOKEN = "test-admin-token-0123456789abcdef";
const { PROMOTED, ROLLED_BACK, CURRENT, HEARTBEAT } = {
  PROMOTED: ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_PROMOTED,
  ROLLED_BACK: ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_ROLLED_BACK,
  CURRENT: ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_CURRENT,
  HEARTBEAT: ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_HEARTBEAT,
};

const silent = pino({ level: "silent" });

/** A verdict number the enum does not define, as a newer or broken client could send. */
const UNKNOWN_VERDICT: FeedbackVerdict = SubmitFeedbackRequest.decode(Uint8Array.from([0x10, 0x09])).verdict;

/** Waits for the next finished run; resolves with its outcome. */
function nextRun(handle: RetrainServerHandle): Promise<RunOutcome> {
  return new Promise((resolve) => handle.events.once("run-finished", (outcome) => resolve(outcome)));
}

describe("RetrainService over gRPC (small synthetic data, real worker trainer)", () => {
  /** A store where v1 was trained and promoted; each test starts a server on its own copy. */
  let template: ReturnType<typeof tempDir>;
  let key: Buffer;
  let tmp: ReturnType<typeof tempDir>;
  let config: RetrainConfig;
  let signer: FeedbackTokenSigner;
  let trainer: HoldableTrainer;
  let server: RetrainServerHandle;
  let client: RetrainServiceClient;
  const admin = bearer(ADMIN_TOKEN);

  const submit = (token: string, verdict: FeedbackVerdict) =>
    unary(client.submitFeedback.bind(client), { feedbackToken: token, verdict });
  const statusNow = () => unary(client.getRetrainStatus.bind(client), {});
  const list = () => unary(client.listModelVersions.bind(client), {});
  const trigger = (reason = "", metadata = admin) =>
    unary(client.triggerRetrain.bind(client), { reason }, metadata);
  const rollback = (modelVersion: string, reason = "", metadata = admin) =>
    unary(client.rollbackModel.bind(client), { modelVersion, reason }, metadata);
  const artifact = (modelVersion: string) => unary(client.getModelArtifact.bind(client), { modelVersion });

  /** A labelled feedback's expected stored label for a prediction. */
  const storedRow = (predictionId: string): { verdict: number; label: number | null } | undefined => {
    const db = new Database(storeFilePath(config), { readonly: true });
    try {
      return db
        .prepare<[string], { verdict: number; label: number | null }>(
          "SELECT verdict, label FROM feedback WHERE prediction_id = ?",
        )
        .get(predictionId);
    } finally {
      db.close();
    }
  };

  const configIn = (dir: string): RetrainConfig =>
    testConfig(dir, key, { adminToken: ADMIN_TOKEN, heartbeatIntervalMs: 200 });

  beforeAll(async () => {
    template = tempDir();
    const keys = testSigner();
    key = keys.key;
    signer = keys.signer;
    const first = configIn(template.dir);
    const starting = await startRetrainServer(first, silent, {
      trainer: WorkerTrainer.forConfig(first, silent),
      syntheticRows: 1500,
      defaultMetrics: false,
    });
    await starting.scheduler.whenIdle();
    await starting.close();
  });

  afterAll(() => template.remove());

  // No test depends on another: each gets a server on a fresh copy of the v1 store (a
  // restart, so nothing is retrained) and builds whatever else it needs itself.
  beforeEach(async () => {
    tmp = tempDir();
    cpSync(template.dir, tmp.dir, { recursive: true });
    config = configIn(tmp.dir);
    trainer = new HoldableTrainer(WorkerTrainer.forConfig(config, silent));
    server = await startRetrainServer(config, silent, { trainer, defaultMetrics: false });
    client = retrainClient(server.port, { "grpc.max_send_message_length": 8 * 1024 * 1024 });
    await server.scheduler.whenIdle();
  });

  afterEach(async () => {
    client.close();
    await server.close();
    tmp.remove();
  });

  /** Trains and promotes one more version, so there is a history to list or roll back. */
  const promoteAnother = async (): Promise<string> => {
    const runDone = nextRun(server);
    await trigger("another version");
    expect(await runDone).toBe("promoted");
    return (await list()).modelVersion;
  };

  it("imports the original data, trains and promotes v1 on first start, then reports SERVING", async () => {
    expect(await testHealthCheck(`127.0.0.1:${server.port}`)).toBe("SERVING");
    expect(await testHealthCheck(`127.0.0.1:${server.port}`, "liver.v1.RetrainService")).toBe("SERVING");
    const registry = await list();
    expect(registry.modelVersion).toBe("v1");
    expect(registry.versions[0]).toMatchObject({
      modelVersion: "v1",
      status: ModelVersionStatus.MODEL_VERSION_STATUS_SERVING,
      parentVersion: "",
      trainedOnSyntheticData: true,
    });
    expect(registry.versions[0]?.metrics?.rocAuc).toBeGreaterThan(0.6);
    const report = await statusNow();
    expect(report).toMatchObject({
      state: RetrainState.RETRAIN_STATE_IDLE,
      modelVersion: "v1",
      originalRows: 1500,
      syntheticData: true,
      pendingLabelledFeedback: 0,
    });
    expect(report.lastRun).toMatchObject({
      trigger: "startup",
      triggerKind: RetrainTrigger.RETRAIN_TRIGGER_STARTUP,
      outcome: RetrainOutcome.RETRAIN_OUTCOME_PROMOTED,
    });
    // The enums beside the contract's strings arrive filled.
    const v1 = registry.versions[0];
    expect(v1?.metrics?.holdoutSchemeKind).toBe(HoldoutScheme.HOLDOUT_SCHEME_LAB_PROFILE_V1);
    expect(v1?.gateChecks.length).toBeGreaterThan(0);
    for (const check of v1?.gateChecks ?? [])
      expect(check.ruleKind, check.rule).not.toBe(GateRule.GATE_RULE_UNSPECIFIED);
  });

  it("stores CORRECT as predicted, WRONG flipped and UNKNOWN unlabelled; a repeat is a duplicate", async () => {
    const sick = prediction({ diagnosis: 1 });
    const healthy = prediction({ diagnosis: 2 });
    const unsure = prediction({ diagnosis: 1 });
    const correct = await submit(signer.sign(sick), FeedbackVerdict.FEEDBACK_VERDICT_CORRECT);
    const wrong = await submit(signer.sign(healthy), FeedbackVerdict.FEEDBACK_VERDICT_WRONG);
    const unknown = await submit(signer.sign(unsure), FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN);
    expect(correct).toMatchObject({ duplicate: false, retrainScheduled: true, modelVersion: "v1" });
    expect(wrong).toMatchObject({ duplicate: false, retrainScheduled: true });
    expect(unknown).toMatchObject({ duplicate: false, retrainScheduled: false });
    expect(storedRow(sick.predictionId)).toEqual({ verdict: 1, label: 1 });
    expect(storedRow(healthy.predictionId)).toEqual({ verdict: 2, label: 1 });
    expect(storedRow(unsure.predictionId)).toEqual({ verdict: 3, label: null });

    const again = await submit(signer.sign(sick), FeedbackVerdict.FEEDBACK_VERDICT_WRONG);
    expect(again).toEqual({
      feedbackId: correct.feedbackId,
      duplicate: true,
      retrainScheduled: false,
      modelVersion: "v1",
      state: FeedbackState.FEEDBACK_STATE_TRAINED,
      stateReason: "",
    });
    expect(storedRow(sick.predictionId)).toEqual({ verdict: 1, label: 1 });
    await server.scheduler.whenIdle();
    const report = await statusNow();
    expect(report.counts).toEqual({ correct: 1, wrong: 1, unknown: 1 });
    expect(report.pendingLabelledFeedback).toBe(0);
    // Per version: v1's answers were marked correct once and wrong once (the repeat is not counted).
    expect(report.verdictsByVersion).toHaveLength(1);
    expect(report.verdictsByVersion[0]).toMatchObject({
      modelVersion: "v1",
      correct: 1,
      wrong: 1,
      unknown: 1,
      accuracy: 0.5,
    });
    expect(report.verdictsByVersion[0]?.accuracyLow).toBeCloseTo(0.0945, 3);
    expect(report.verdictsByVersion[0]?.accuracyHigh).toBeCloseTo(0.9055, 3);
  });

  it("refuses bad feedback requests with the status and a message naming the problem", async () => {
    const token = signer.sign(prediction());
    const cases: [string, FeedbackVerdict, status, RegExp][] = [
      ["", FeedbackVerdict.FEEDBACK_VERDICT_CORRECT, status.INVALID_ARGUMENT, /feedback_token is required/],
      [token, FeedbackVerdict.FEEDBACK_VERDICT_UNSPECIFIED, status.INVALID_ARGUMENT, /verdict is required/],
      [token, UNKNOWN_VERDICT, status.INVALID_ARGUMENT, /verdict has unknown enum value 9/],
      ["x".repeat(5000), FeedbackVerdict.FEEDBACK_VERDICT_CORRECT, status.INVALID_ARGUMENT, /at most 4096/],
      ["not-a-token", FeedbackVerdict.FEEDBACK_VERDICT_CORRECT, status.INVALID_ARGUMENT, /malformed/],
      [
        new FeedbackTokenSigner(testSigner().key).sign(prediction()),
        FeedbackVerdict.FEEDBACK_VERDICT_CORRECT,
        status.PERMISSION_DENIED,
        /signature does not match/,
      ],
      [
        `${token.slice(0, 10)}${token[10] === "A" ? "B" : "A"}${token.slice(11)}`,
        FeedbackVerdict.FEEDBACK_VERDICT_CORRECT,
        status.PERMISSION_DENIED,
        /altered/,
      ],
      [
        signer.sign(prediction({ issuedAtMs: Date.now() - 25 * 3_600_000 })),
        FeedbackVerdict.FEEDBACK_VERDICT_WRONG,
        status.FAILED_PRECONDITION,
        /expired/,
      ],
      [
        signer.sign(prediction({ diagnosis: 0 })),
        FeedbackVerdict.FEEDBACK_VERDICT_CORRECT,
        status.INVALID_ARGUMENT,
        /diagnosis 0/,
      ],
    ];
    for (const [feedbackToken, verdict, code, message] of cases) {
      const refused = await failure(submit(feedbackToken, verdict));
      expectStatus(refused, code, message);
    }
    const both = await failure(submit("", FeedbackVerdict.FEEDBACK_VERDICT_UNSPECIFIED));
    expect(both.details).toMatch(/feedback_token is required.*verdict is required/);
    const oversized = await failure(
      submit("y".repeat(5 * 1024 * 1024), FeedbackVerdict.FEEDBACK_VERDICT_CORRECT),
    );
    expect(oversized.code).toBe(status.RESOURCE_EXHAUSTED);
    expect((await statusNow()).counts).toEqual({ correct: 0, wrong: 0, unknown: 0 });
  });

  it("reports a running job's progress, then covers 100 feedbacks sent during the run with exactly one follow-up", async () => {
    const before = (await list()).versions.length;
    const held = trainer.holdNext();
    const outcomes: RunOutcome[] = [];
    const onRun = (outcome: RunOutcome): void => {
      outcomes.push(outcome);
    };
    server.events.on("run-finished", onRun);
    expect(await trigger("burst test")).toEqual({ scheduled: true });
    await held.started;
    const running = await statusNow();
    expect(running.state).toBe(RetrainState.RETRAIN_STATE_RUNNING);
    expect(running.progress).toMatchObject({ stage: "held by the test", totalSteps: 1 });
    expect(running.progress?.runId).toMatch(/^[0-9a-f-]{36}$/);

    const burst = Array.from({ length: 100 }, (_, i) =>
      submit(
        signer.sign(prediction({ diagnosis: i % 2 === 0 ? 1 : 2 })),
        i % 3 === 0 ? FeedbackVerdict.FEEDBACK_VERDICT_WRONG : FeedbackVerdict.FEEDBACK_VERDICT_CORRECT,
      ),
    );
    const acks = await Promise.all(burst);
    expect(acks.every((a) => a.retrainScheduled && !a.duplicate)).toBe(true);
    expect((await statusNow()).pendingLabelledFeedback).toBe(100);
    expect(await trigger("covered by the follow-up")).toEqual({ scheduled: false });
    held.release();
    await server.scheduler.whenIdle();
    server.events.off("run-finished", onRun);

    expect(outcomes).toEqual(["promoted", "promoted"]);
    const registry = await list();
    expect(registry.versions.length).toBe(before + 2);
    const newest = registry.versions[0];
    // All 100 of the burst are covered; the
    // base model trains on them at the prevalence the reference expects (a per-site
    // intercept), so some of the over-represented class sit out.
    expect(newest?.rowCounts?.feedbackRows).toBeGreaterThan(0);
    expect(newest?.rowCounts?.feedbackRows).toBeLessThanOrEqual(100);
    expect(newest?.status).toBe(ModelVersionStatus.MODEL_VERSION_STATUS_SERVING);
    const idle = await statusNow();
    expect(idle).toMatchObject({ state: RetrainState.RETRAIN_STATE_IDLE, pendingLabelledFeedback: 0 });
    expect(idle.lastRun?.feedbackRows).toBe(100);
  });

  it("streams CURRENT first, heartbeats at the interval, and every promotion", async () => {
    const serving = (await list()).modelVersion;
    const stream = watch(client);
    const first = await stream.next(() => true);
    expect(first).toMatchObject({ kind: CURRENT, modelVersion: serving, heartbeatIntervalMs: 200 });
    expect(first.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(first.metrics?.rocAuc).toBeGreaterThan(0.5);
    const heartbeat = await stream.next((e) => e.kind === HEARTBEAT);
    expect(heartbeat).toMatchObject({ modelVersion: serving, metrics: undefined });
    const runDone = nextRun(server);
    await trigger("stream test");
    expect(await runDone).toBe("promoted");
    const promoted = await stream.next((e) => e.kind === PROMOTED);
    const newest = (await list()).versions[0];
    expect(promoted.modelVersion).toBe(newest?.modelVersion);
    expect(promoted.sha256).toBe(newest?.sha256);
    stream.cancel();
  });

  it("resumes after a known after_version and refuses unknown or malformed ones", async () => {
    const serving = (await list()).modelVersion;
    const resumed = watch(client, "v1");
    expect(await resumed.next(() => true)).toMatchObject({ kind: CURRENT, modelVersion: serving });
    resumed.cancel();
    expectStatus(await watch(client, "v999").ended, status.NOT_FOUND, /after_version v999 is not a version/);
    expectStatus(
      await watch(client, "latest").ended,
      status.INVALID_ARGUMENT,
      /after_version "latest" is not a version name/,
    );
  });

  it("shows a promotion to 50 concurrent subscribers", async () => {
    const streams = Array.from({ length: 50 }, () => watch(client));
    await Promise.all(streams.map((s) => s.next((e) => e.kind === CURRENT)));
    expect(server.broadcaster.stats().subscribers).toBeGreaterThanOrEqual(50);
    const runDone = nextRun(server);
    await trigger("fan-out test");
    expect(await runDone).toBe("promoted");
    const version = (await list()).modelVersion;
    const seen = await Promise.all(streams.map((s) => s.next((e) => e.kind === PROMOTED)));
    expect(seen.map((e) => e.modelVersion)).toEqual(Array.from({ length: 50 }, () => version));
    for (const s of streams) s.cancel();
  });

  it("returns every artifact file with the manifest's sha256, and NOT_FOUND for unknown versions", async () => {
    const registry = await list();
    const v1 = registry.versions.find((v) => v.modelVersion === "v1");
    const answer = await artifact("v1");
    expect(answer.modelVersion).toBe("v1");
    expect(answer.sha256).toBe(v1?.sha256);
    expect(answer.files.map((f) => f.name).sort()).toEqual(
      [
        "calibration.json",
        "manifest.json",
        "metrics.json",
        "model.json",
        "pipeline.json",
        "weights.bin",
      ].sort(),
    );
    const loaded = verifyArtifactFiles(answer.files, answer.sha256);
    expect(loaded.manifest.version).toBe("v1");
    expect(loaded.metrics.holdout.rocAuc).toBeCloseTo(v1?.metrics?.rocAuc ?? 0, 10);
    expect(await failure(artifact("v404"))).toMatchObject({ code: status.NOT_FOUND });
    expectStatus(await failure(artifact("")), status.INVALID_ARGUMENT, /model_version is required/);
    expect(await failure(artifact("../v1"))).toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it("lists every version newest first with metrics, row counts, parents and times", async () => {
    await promoteAnother();
    await promoteAnother();
    const registry = await list();
    expect(registry.versions.map((v) => v.modelVersion)).toEqual(["v3", "v2", "v1"]);
    const names = registry.versions.map((v) => v.modelVersion);
    expect(names).toEqual(names.map((_, i) => `v${names.length - i}`));
    expect(
      registry.versions.filter((v) => v.status === ModelVersionStatus.MODEL_VERSION_STATUS_SERVING),
    ).toHaveLength(1);
    for (const version of registry.versions) {
      expect(version.metrics?.holdoutRows).toBeGreaterThan(0);
      expect(version.rowCounts?.originalRows).toBeGreaterThan(0);
      expect(version.createdAt).toBeInstanceOf(Date);
      expect(version.reason).not.toBe("");
    }
    expect(registry.versions[0]?.parentVersion).toBe(registry.versions[1]?.modelVersion);
  });

  it("guards the admin RPCs: no header, wrong token and bad fields are refused", async () => {
    expect(await failure(trigger("", bearer("")))).toMatchObject({ code: status.UNAUTHENTICATED });
    const none = await failure(unary(client.triggerRetrain.bind(client), { reason: "" }));
    expectStatus(none, status.UNAUTHENTICATED, /Bearer <ADMIN_TOKEN>/);
    expect(await failure(trigger("", bearer("wrong-token-0123456789")))).toMatchObject({
      code: status.PERMISSION_DENIED,
    });
    expect(await failure(rollback("v1", "", bearer("wrong-token-0123456789")))).toMatchObject({
      code: status.PERMISSION_DENIED,
    });
    expectStatus(
      await failure(trigger("r".repeat(201))),
      status.INVALID_ARGUMENT,
      /reason is 201 characters; at most 200/,
    );
    expect(await failure(rollback(""))).toMatchObject({ code: status.INVALID_ARGUMENT });
    expect(await failure(rollback("v404"))).toMatchObject({ code: status.NOT_FOUND });
  });

  it("rolls back to an earlier version and tells subscribers", async () => {
    const before = await promoteAnother();
    expect(before).not.toBe("v1");
    const stream = watch(client);
    await stream.next((e) => e.kind === CURRENT);
    expect(await rollback("v1", "testing rollback")).toEqual({ modelVersion: "v1", previousVersion: before });
    const event = await stream.next((e) => e.kind === ROLLED_BACK);
    expect(event.modelVersion).toBe("v1");
    const registry = await list();
    expect(registry.modelVersion).toBe("v1");
    expect(registry.versions.find((v) => v.modelVersion === "v1")?.reason).toBe(
      "rolled back by an admin: testing rollback",
    );
    expect(registry.versions.find((v) => v.modelVersion === before)?.status).toBe(
      ModelVersionStatus.MODEL_VERSION_STATUS_RETIRED,
    );
    expect((await statusNow()).modelVersion).toBe("v1");
    // The next candidate's parent is the version serving after the rollback.
    const runDone = nextRun(server);
    await trigger("after rollback");
    await runDone;
    expect((await list()).versions[0]?.parentVersion).toBe("v1");
    stream.cancel();
  });

  it("records a crashed run as failed with its error and keeps serving", async () => {
    const serving = (await list()).modelVersion;
    trainer.failNext(new Error("simulated trainer crash"));
    const runDone = nextRun(server);
    await trigger("crash test");
    expect(await runDone).toBe("failed");
    const report = await statusNow();
    expect(report.lastRun).toMatchObject({
      outcome: RetrainOutcome.RETRAIN_OUTCOME_FAILED,
      error: "simulated trainer crash",
      trigger: "admin",
      triggerKind: RetrainTrigger.RETRAIN_TRIGGER_ADMIN,
      modelVersion: "",
    });
    expect(report.modelVersion).toBe(serving);
    expect(await testHealthCheck(`127.0.0.1:${server.port}`)).toBe("SERVING");
    // The version number was not spent: the next candidate takes it.
    const names = (await list()).versions.map((v) => v.modelVersion);
    const runAgain = nextRun(server);
    await trigger("after the crash");
    expect(await runAgain).toBe("promoted");
    expect((await list()).versions[0]?.modelVersion).toBe(`v${names.length + 1}`);
  });

  it("exposes Prometheus metrics for feedback, runs, training time and the serving version", async () => {
    const sick = signer.sign(prediction({ diagnosis: 1 }));
    await submit(sick, FeedbackVerdict.FEEDBACK_VERDICT_CORRECT);
    await submit(sick, FeedbackVerdict.FEEDBACK_VERDICT_CORRECT);
    await submit(signer.sign(prediction({ diagnosis: 1 })), FeedbackVerdict.FEEDBACK_VERDICT_WRONG);
    await submit(signer.sign(prediction({ diagnosis: 1 })), FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN);
    await server.scheduler.whenIdle();
    trainer.failNext(new Error("simulated trainer crash"));
    const failedRun = nextRun(server);
    await trigger("metrics: a failed run");
    expect(await failedRun).toBe("failed");
    await promoteAnother();
    const response = await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`);
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(text).toMatch(/liver_retrain_feedback_total\{verdict="correct"\} \d+/);
    expect(text).toMatch(/liver_retrain_feedback_total\{verdict="unknown"\} 1/);
    expect(text).toMatch(/liver_retrain_feedback_duplicates_total 1/);
    expect(text).toMatch(/liver_retrain_runs_total\{outcome="promoted",trigger="admin"\} \d+/);
    expect(text).toMatch(/liver_retrain_runs_total\{outcome="failed",trigger="admin"\} 1/);
    expect(text).toMatch(/liver_retrain_training_duration_seconds_count\{outcome="promoted"\} \d+/);
    const serving = (await list()).modelVersion;
    expect(text).toContain(`liver_retrain_serving_model_info{model_version="${serving}"} 1`);
    expect(text).toMatch(/liver_retrain_state\{state="idle"\} 1/);
    expect(text).toMatch(/liver_retrain_version_verdicts\{model_version="v1",verdict="wrong"\} \d+/);
    expect(text).toMatch(/liver_retrain_version_verdict_accuracy\{model_version="v1",bound="low"\} 0\.\d+/);
  });
});

describe("RetrainService without an admin token and with a trainer that always fails", () => {
  let tmp: ReturnType<typeof tempDir>;
  let server: RetrainServerHandle;
  let client: RetrainServiceClient;
  let signer: FeedbackTokenSigner;

  beforeAll(async () => {
    tmp = tempDir();
    const keys = testSigner();
    signer = keys.signer;
    const failing = {
      train: () => Promise.reject(new Error("no trainer in this test")),
      close: () => Promise.resolve(),
    };
    server = await startRetrainServer(testConfig(tmp.dir, keys.key), silent, {
      trainer: failing,
      syntheticRows: 300,
      defaultMetrics: false,
    });
    await server.scheduler.whenIdle();
    client = retrainClient(server.port);
  });

  afterAll(async () => {
    client.close();
    await server.close();
    tmp.remove();
  });

  it("stays NOT_SERVING with the failed first run recorded, and refuses the stream until a version serves", async () => {
    expect(await testHealthCheck(`127.0.0.1:${server.port}`)).toBe("NOT_SERVING");
    const report = await unary(client.getRetrainStatus.bind(client), {});
    expect(report).toMatchObject({ modelVersion: "", state: RetrainState.RETRAIN_STATE_IDLE });
    expect(report.lastRun).toMatchObject({
      trigger: "startup",
      outcome: RetrainOutcome.RETRAIN_OUTCOME_FAILED,
      error: "no trainer in this test",
    });
    expectStatus(await watch(client).ended, status.UNAVAILABLE, /no model version serves yet/);
  });

  it("still accepts feedback durably", async () => {
    const record = prediction();
    const ack = await unary(client.submitFeedback.bind(client), {
      feedbackToken: signer.sign(record),
      verdict: FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN,
    });
    expect(ack).toMatchObject({ duplicate: false, retrainScheduled: false, modelVersion: "v1" });
    expect(ack.feedbackId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("refuses admin RPCs with a message saying how to set ADMIN_TOKEN", async () => {
    for (const call of [
      unary(client.triggerRetrain.bind(client), { reason: "" }, bearer("anything-at-all-12345")),
      unary(client.rollbackModel.bind(client), { modelVersion: "v1", reason: "" }),
    ]) {
      expectStatus(
        await failure(call),
        status.FAILED_PRECONDITION,
        /no ADMIN_TOKEN is configured.*Set ADMIN_TOKEN/,
      );
    }
  });
});

describe("RetrainService shutdown", () => {
  it("ends version streams with UNAVAILABLE and stops listening", async () => {
    const tmp = tempDir();
    const keys = testSigner();
    const server = await startRetrainServer(testConfig(tmp.dir, keys.key), silent, {
      trainer: instantTrainer,
      syntheticRows: 200,
      defaultMetrics: false,
    });
    await server.scheduler.whenIdle();
    const client = retrainClient(server.port);
    try {
      const streams = [watch(client), watch(client)];
      await Promise.all(streams.map((s) => s.next((e: WatchModelVersionsResponse) => e.kind === CURRENT)));
      const closing = server.close();
      const ended = await Promise.all(streams.map((s) => s.ended));
      for (const end of ended) {
        expect(end.code).toBe(status.UNAVAILABLE);
        expect(end.details).toMatch(/shutting down; reconnect with after_version/);
      }
      await closing;
      expect(await testHealthCheck(`127.0.0.1:${server.port}`, "", 300)).toBe("UNREACHABLE");
    } finally {
      client.close();
      await server.close();
      tmp.remove();
    }
  });
});

describe("RetrainService start on a port in use", () => {
  it("fails with the address in the message and closes what it had started", async () => {
    const tmp = tempDir();
    const keys = testSigner();
    const first = await startRetrainServer(testConfig(tmp.dir, keys.key), silent, {
      trainer: instantTrainer,
      syntheticRows: 200,
      defaultMetrics: false,
    });
    const other = tempDir();
    let trainerClosed = false;
    try {
      await expect(
        startRetrainServer({ ...testConfig(other.dir, keys.key), port: first.port }, silent, {
          trainer: { ...instantTrainer, close: () => ((trainerClosed = true), Promise.resolve()) },
          syntheticRows: 200,
          defaultMetrics: false,
        }),
      ).rejects.toThrow(new RegExp(`cannot listen on .*:${first.port}`));
      expect(trainerClosed).toBe(true);
    } finally {
      await first.close();
      tmp.remove();
      other.remove();
    }
  });
});

describe("RetrainService version stream with a subscriber that stops reading", () => {
  it("keeps delivering to the others and holds only the latest event for the stalled one", async () => {
    const tmp = tempDir();
    const keys = testSigner();
    const server = await startRetrainServer(
      testConfig(tmp.dir, keys.key, { adminToken: ADMIN_TOKEN, heartbeatIntervalMs: 2 }),
      silent,
      { trainer: instantTrainer, syntheticRows: 200, defaultMetrics: false },
    );
    await server.scheduler.whenIdle();
    const client = retrainClient(server.port);
    const stalled = openStalledWatch(server.port);
    const fast = watch(client);
    try {
      // Heartbeats every 2 ms fill the stalled stream's 256-byte window and the buffers behind it.
      await fast.next(() => server.broadcaster.stats().lagging === 1);
      for (let i = 0; i < 3; i++) {
        const done = nextRun(server);
        await unary(client.triggerRetrain.bind(client), { reason: "" }, bearer(ADMIN_TOKEN));
        expect(await done).toBe("promoted");
        const version = server.registry.serving()?.modelVersion ?? "";
        expect(await fast.next((e) => e.kind === PROMOTED && e.modelVersion === version)).toBeDefined();
      }
      const latest = server.registry.serving()?.modelVersion;
      expect(latest).toBe("v4");
      const stats = server.broadcaster.stats();
      expect(stats.lagging).toBe(1);
      expect(stats.coalesced).toBeGreaterThanOrEqual(2);
      expect(stats.heartbeatsSkipped).toBeGreaterThan(0);
      const heldBack = await stalled.readAll((e) => e.kind === PROMOTED && e.modelVersion === latest);
      // It missed v2 and v3 (coalesced) but gets the latest promotion once it reads again.
      expect(heldBack.filter((e) => e.kind === PROMOTED).map((e) => e.modelVersion)).toEqual(["v4"]);
      expect(fast.events.filter((e) => e.kind === PROMOTED).map((e) => e.modelVersion)).toEqual([
        "v2",
        "v3",
        "v4",
      ]);
    } finally {
      stalled.close();
      fast.cancel();
      client.close();
      await server.close();
      tmp.remove();
    }
  });
});

describe("RetrainService version streams per client", () => {
  /** Opens a stream with `forwardedFor` as x-forwarded-for; resolves once it is answered (first event or status). */
  const open = (client: RetrainServiceClient, forwardedFor?: string) => {
    const metadata = new Metadata();
    if (forwardedFor !== undefined) metadata.set("x-forwarded-for", forwardedFor);
    const call = client.watchModelVersions({ afterVersion: "" }, metadata);
    const answered = new Promise<{ code: status; details: string } | "streaming">((resolve) => {
      call.once("data", () => resolve("streaming"));
      call.on("error", () => undefined);
      call.once("status", (s: { code: status; details: string }) =>
        resolve({ code: s.code, details: s.details }),
      );
    });
    return { call, answered };
  };

  const startWith = async (trustedGateways: string) => {
    const tmp = tempDir();
    const keys = testSigner();
    const server = await startRetrainServer(
      testConfig(tmp.dir, keys.key, {
        trustedGateways: parseTrustedAddresses(trustedGateways),
        watchStreamsPerClient: 2,
        watchStreamsTotal: 3,
      }),
      silent,
      { trainer: instantTrainer, syntheticRows: 200, defaultMetrics: false },
    );
    await server.scheduler.whenIdle();
    const client = retrainClient(server.port);
    return {
      client,
      close: async () => {
        client.close();
        await server.close();
        tmp.remove();
      },
    };
  };

  it("refuses a client past its bound and a pool past its total; pages behind a gateway never take a replica's slot", async () => {
    // Loopback is a trusted gateway: a forwarded address is the client, and without one the
    // peer (127.0.0.1) is a direct client, as a Predict replica is.
    const { client, close } = await startWith("127.0.0.1/8,::1/128");
    try {
      const direct = [open(client), open(client)];
      expect(await Promise.all(direct.map((s) => s.answered))).toEqual(["streaming", "streaming"]);
      expect(await open(client).answered).toEqual({
        code: status.RESOURCE_EXHAUSTED,
        details:
          "this client already holds 2 open WatchModelVersions streams (limit 2, WATCH_STREAMS_PER_CLIENT); close one or retry later",
      });
      // Clients behind the gateway each have their own bound, and fill their pool of 3.
      const pages = ["203.0.113.7", "203.0.113.7", "203.0.113.8"].map((address) => open(client, address));
      expect(await Promise.all(pages.map((s) => s.answered))).toEqual([
        "streaming",
        "streaming",
        "streaming",
      ]);
      expect(await open(client, "203.0.113.9").answered).toEqual({
        code: status.RESOURCE_EXHAUSTED,
        details:
          "the server holds 3 open WatchModelVersions streams from clients behind gateways (limit 3, WATCH_STREAMS_TOTAL); retry later",
      });
      // A direct stream that ends gives its slot back, and the full pool of pages does not take it.
      direct[0]?.call.cancel();
      await waitUntil(
        "the slot given back",
        async () => (await open(client).answered) === "streaming",
        10_000,
        50,
      );
    } finally {
      await close();
    }
  });

  it("counts an untrusted peer as one client however it rewrites x-forwarded-for", async () => {
    const { client, close } = await startWith("");
    try {
      const answers = await Promise.all(
        ["198.51.100.1", "198.51.100.2", "198.51.100.3"].map((address) => open(client, address).answered),
      );
      expect(answers.filter((a) => a === "streaming")).toHaveLength(2);
      expect(answers.filter((a) => a !== "streaming").map((a) => typeof a === "object" && a.code)).toEqual([
        status.RESOURCE_EXHAUSTED,
      ]);
    } finally {
      await close();
    }
  });
});
