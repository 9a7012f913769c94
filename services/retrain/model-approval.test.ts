/**
 * The approval flow end to end on a real RetrainService (gRPC on 127.0.0.1:0, SQLite in a
 * temp folder, the real training worker): a candidate whose served answers change class for
 * more than APPROVAL_MAX_CLASS_CHANGE waits (PENDING_APPROVAL) with its evidence, a newer one
 * supersedes it, the wait survives a restart, an admin approves (it serves at once, announced
 * on the stream) or rejects (nothing changes), and nobody else can.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { Metadata, status } from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelVersionStatus, type ModelVersion } from "../gen/liver/v1/model.js";
import {
  ModelVersionEventKind,
  RetrainOutcome,
  type RetrainServiceClient,
} from "../gen/liver/v1/retrain_service.js";
import { mintTestToken, newTestKey, type TestKey } from "../shared/auth/testing/test-issuer.js";
import type { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import type { RetrainConfig } from "./retrain-config.js";
import { startRetrainServer, type RetrainServerHandle } from "./retrain-server.js";
import { DEFAULT_SITE } from "./served-answers.js";
import { POPULATION } from "./served-change.js";
import { bearer, expectStatus, failure, retrainClient, unary, watch } from "./testing/retrain-clients.js";
import {
  PERMISSIVE_GATE_POLICY,
  seededRandom,
  tempDir,
  testConfig,
  testSigner,
} from "./testing/retrain-fixtures.js";
import { prevalenceShiftBatch } from "./testing/prevalence-shift-batch.js";
import { WorkerTrainer } from "./training-worker.js";

const ISSUER = "https://idp.test/realms/hospital";
const AUDIENCE = "liver-mesh";
const ADMIN_TOKEN = "approval-break-glass-0123456789";
const CLINICIANS = ["alice", "bob", "carol", "dave", "erin"];
/** Labelled verdicts per batch: one batch makes one run (RETRAIN_MIN_BATCH). */
const BATCH = 150;
const { MODEL_VERSION_STATUS_PENDING_APPROVAL: PENDING, MODEL_VERSION_STATUS_SERVING: SERVING } =
  ModelVersionStatus;
const REJECTED = ModelVersionStatus.MODEL_VERSION_STATUS_REJECTED;

let key: TestKey;
let signer: FeedbackTokenSigner;
let config: RetrainConfig;
let server: RetrainServerHandle;
let client: RetrainServiceClient;
const tmp = tempDir("model-approval-");
const random = seededRandom(2024);
const logLines: Record<string, unknown>[] = [];
const logger = pino(
  { level: "info" },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line !== "") logLines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  }),
);

function token(subject: string, roles: string[]): Promise<string> {
  return mintTestToken(key, { issuer: ISSUER, audience: AUDIENCE, subject, roles });
}

async function start(): Promise<void> {
  server = await startRetrainServer(config, logger, {
    trainer: WorkerTrainer.forConfig(config, pino({ level: "silent" })),
    syntheticRows: 1200,
    defaultMetrics: false,
  });
  await server.scheduler.whenIdle();
  client = retrainClient(server.port);
}

async function stop(): Promise<void> {
  client.close();
  await server.close();
}

/**
 * One run's worth of verdicts from five signed-in clinicians on the serving version's
 * answers, whose outcomes keep its ranking but claim another prevalence (`shift` log-odds):
 * the kind of batch that moves the default site's served answers a lot. Resolves once the
 * run it schedules has finished.
 */
async function sendBatch(shift: number): Promise<void> {
  const serving = (await versions()).serving;
  const batch = await prevalenceShiftBatch({
    modelPath: config.modelPath,
    modelVersion: serving,
    count: BATCH,
    shift,
    random,
    principals: CLINICIANS.map((subject) => `${ISSUER}|${subject}`),
  });
  for (const [i, { record, verdict }] of batch.entries()) {
    const subject = CLINICIANS[i % CLINICIANS.length] ?? "alice";
    await unary(
      client.submitFeedback.bind(client),
      { feedbackToken: signer.sign(record), verdict },
      bearer(await token(subject, ["liver-clinician"])),
    );
  }
  await server.scheduler.whenIdle();
}

async function versions(): Promise<{ list: ModelVersion[]; serving: string }> {
  const answer = await unary(client.listModelVersions.bind(client), {});
  return { list: answer.versions, serving: answer.modelVersion };
}

function find(list: readonly ModelVersion[], name: string): ModelVersion {
  const found = list.find((v) => v.modelVersion === name);
  if (found === undefined) throw new Error(`${name} is not listed`);
  return found;
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`${name} is not exported`);
  return Number(line.split(" ")[1]);
}

const approve = (modelVersion: string, reason: string, metadata: Metadata) =>
  unary(client.approveModelVersion.bind(client), { modelVersion, reason }, metadata);
const reject = (modelVersion: string, reason: string, metadata: Metadata) =>
  unary(client.rejectModelVersion.bind(client), { modelVersion, reason }, metadata);

beforeAll(async () => {
  key = await newTestKey("approval-key");
  const jwks = path.join(tmp.dir, "jwks.json");
  writeFileSync(jwks, JSON.stringify({ keys: [key.publicJwk] }));
  const keys = testSigner();
  signer = keys.signer;
  config = testConfig(tmp.dir, keys.key, {
    adminToken: ADMIN_TOKEN,
    minBatch: BATCH,
    // Every class change waits: the bound is the binding setting's lowest value.
    gatePolicy: { ...PERMISSIVE_GATE_POLICY, approvalMaxClassChange: 0 },
    auth: {
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks: { kind: "file", file: jwks },
      rolesClaim: "roles",
      clinicianRole: "liver-clinician",
      adminRole: "liver-admin",
    },
  });
  await start();
}, 120_000);

afterAll(async () => {
  await stop();
  tmp.remove();
});

describe("large changes wait for approval", () => {
  /** holds a candidate that changes served answers, with its evidence, and announces it. */
  const step1 = async (): Promise<void> => {
    expect((await versions()).serving).toBe("v1");
    const stream = watch(client);
    await stream.next((e) => e.kind === ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_CURRENT);
    await sendBatch(-3);
    const { list, serving } = await versions();
    expect(serving).toBe("v1");
    const v2 = find(list, "v2");
    expect(v2.status).toBe(PENDING);
    expect(v2.reason).toMatch(/^waits for approval: .* against approved v1/);
    const review = v2.approval;
    expect(review?.approvedVersion).toBe("v1");
    expect(review?.required).toBe(true);
    expect(review?.maxClassChange).toBe(0);
    const population = review?.changes.find((c) => c.site === DEFAULT_SITE && c.slice === POPULATION);
    expect(population?.changed).toBeGreaterThan(0);
    expect(population?.exceeds).toBe(true);
    expect(review?.changes.some((c) => c.slice === "total_bilirubin>3")).toBe(true);
    expect(review?.feedback?.rows).toBe(BATCH);
    expect(review?.feedback?.sourceCount).toBe(CLINICIANS.length);
    expect(review?.feedback?.principals).toEqual(CLINICIANS.map((s) => `${ISSUER}|${s}`).sort());
    expect(review?.feedback?.sources.reduce((sum, s) => sum + s.rows, 0)).toBe(BATCH);
    const first = review?.feedback?.firstReceivedAt?.getTime() ?? Number.NaN;
    const last = review?.feedback?.lastReceivedAt?.getTime() ?? Number.NaN;
    expect(first).toBeLessThanOrEqual(last);
    expect(v2.gateChecks.some((c) => c.rule === `served:${DEFAULT_SITE}:${POPULATION}` && !c.passed)).toBe(
      true,
    );
    const announced = await stream.next(
      (e) => e.kind === ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_PENDING_APPROVAL,
    );
    expect(announced.modelVersion).toBe("v1");
    expect(announced.pendingVersion).toBe("v2");
    stream.cancel();
    const status = await unary(client.getRetrainStatus.bind(client), {});
    expect(status.lastRun?.outcome).toBe(RetrainOutcome.RETRAIN_OUTCOME_PENDING_APPROVAL);
    expect(status.lastRun?.modelVersion).toBe("v2");
    expect(await metric("liver_retrain_pending_approval")).toBe(1);
    expect(await metric("liver_retrain_pending_approval_since_seconds")).toBeGreaterThan(0);
  };

  /** refuses callers who are not admins, and bad input, naming the field. */
  const step2 = async (): Promise<void> => {
    const reason = "reviewed the evidence";
    expectStatus(
      await failure(approve("v2", reason, new Metadata())),
      status.UNAUTHENTICATED,
      /ApproveModelVersion/,
    );
    expectStatus(
      await failure(approve("v2", reason, bearer(await token("alice", ["liver-clinician"])))),
      status.PERMISSION_DENIED,
      /liver-admin/,
    );
    expectStatus(
      await failure(reject("v2", reason, bearer(await token("alice", ["liver-clinician"])))),
      status.PERMISSION_DENIED,
      /liver-admin/,
    );
    expectStatus(
      await failure(reject("v2", reason, bearer("not-the-admin-token"))),
      status.PERMISSION_DENIED,
      /./,
    );
    const admin = bearer(await token("root", ["liver-admin"]));
    expectStatus(
      await failure(approve("v99", reason, admin)),
      status.NOT_FOUND,
      /v99 is not in the registry/,
    );
    expectStatus(
      await failure(approve("v1", reason, admin)),
      status.FAILED_PRECONDITION,
      /v1 does not wait for approval: it is serving; v2 waits now/,
    );
    expectStatus(await failure(approve("v2", "", admin)), status.INVALID_ARGUMENT, /reason is required/);
    expectStatus(await failure(reject("v2", "   ", admin)), status.INVALID_ARGUMENT, /reason is required/);
    expectStatus(
      await failure(approve("v2", "x".repeat(201), admin)),
      status.INVALID_ARGUMENT,
      /reason is 201 characters/,
    );
    expectStatus(
      await failure(reject("v2", "bad\u0000reason", admin)),
      status.INVALID_ARGUMENT,
      /control characters/,
    );
    expectStatus(await failure(approve("", reason, admin)), status.INVALID_ARGUMENT, /model_version/);
    expectStatus(
      await failure(approve("v2; DROP TABLE", reason, admin)),
      status.INVALID_ARGUMENT,
      /model_version/,
    );
    expect(find((await versions()).list, "v2").status).toBe(PENDING);
  };

  /** lets a newer pending candidate supersede the older one. */
  const step3 = async (): Promise<void> => {
    await sendBatch(-3);
    const { list, serving } = await versions();
    expect(serving).toBe("v1");
    const v2 = find(list, "v2");
    expect(v2.status).toBe(REJECTED);
    expect(v2.approval?.decision).toBe("superseded");
    expect(v2.approval?.decisionReason).toBe("superseded by v3");
    const v3 = find(list, "v3");
    expect(v3.status).toBe(PENDING);
    // Compared with the last approved version, not with v2: small steps cannot add up.
    expect(v3.approval?.approvedVersion).toBe("v1");
    expect(v3.approval?.feedback?.rows).toBe(2 * BATCH);
    const admin = bearer(await token("root", ["liver-admin"]));
    expectStatus(
      await failure(approve("v2", "too late", admin)),
      status.FAILED_PRECONDITION,
      /v2 does not wait for approval: it is rejected \(superseded by automatic: superseded by v3\); v3 waits now/,
    );
  };

  /** still waits after a restart, and an admin's approval serves it at once through the stream. */
  const step4 = async (): Promise<void> => {
    await stop();
    await start();
    expect(find((await versions()).list, "v3").status).toBe(PENDING);
    expect(await metric("liver_retrain_pending_approval")).toBe(1);
    const stream = watch(client);
    const current = await stream.next(
      (e) => e.kind === ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_CURRENT,
    );
    expect(current.modelVersion).toBe("v1");
    expect(current.pendingVersion).toBe("v3");

    const answer = await approve(
      "v3",
      "checked the slices with the clinic lead",
      bearer(await token("root", ["liver-admin"])),
    );
    expect(answer).toEqual({ modelVersion: "v3", previousVersion: "v1" });
    const promoted = await stream.next(
      (e) => e.kind === ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_PROMOTED,
    );
    expect(promoted.modelVersion).toBe("v3");
    expect(promoted.pendingVersion).toBe("");
    stream.cancel();
    const { list, serving } = await versions();
    expect(serving).toBe("v3");
    const v3 = find(list, "v3");
    expect(v3.status).toBe(SERVING);
    expect(v3.approval?.decision).toBe("approved");
    expect(v3.approval?.decidedBy).toBe(`${ISSUER}|root`);
    expect(v3.approval?.decisionReason).toBe("checked the slices with the clinic lead");
    expect(await metric("liver_retrain_pending_approval")).toBe(0);
    const audit = logLines.find((l) => l["audit"] === "ApproveModelVersion");
    expect(audit).toMatchObject({ principal: `${ISSUER}|root`, modelVersion: "v3", previousVersion: "v1" });
  };

  /** compares the next candidate with the approved version, and a rejection keeps serving unchanged. */
  const step5 = async (): Promise<void> => {
    await sendBatch(3);
    const before = await versions();
    expect(before.serving).toBe("v3");
    const v4 = find(before.list, "v4");
    expect(v4.status).toBe(PENDING);
    expect(v4.approval?.approvedVersion).toBe("v3");
    expect(v4.approval?.feedback?.rows).toBe(BATCH);

    // The break-glass token is an admin too.
    const answer = await reject("v4", "one clinic's verdicts; asking them first", bearer(ADMIN_TOKEN));
    expect(answer).toEqual({ modelVersion: "v4", servingVersion: "v3" });
    const after = await versions();
    expect(after.serving).toBe("v3");
    const rejected = find(after.list, "v4");
    expect(rejected.status).toBe(REJECTED);
    expect(rejected.approval?.decision).toBe("rejected");
    expect(rejected.reason).toMatch(/^rejected by .*: one clinic's verdicts; asking them first$/);
    expect(await metric("liver_retrain_pending_approval")).toBe(0);
    expect(logLines.some((l) => l["audit"] === "RejectModelVersion" && l["modelVersion"] === "v4")).toBe(
      true,
    );
    expectStatus(
      await failure(approve("v4", "changed my mind", bearer(ADMIN_TOKEN))),
      status.FAILED_PRECONDITION,
      /v4 does not wait for approval: it is rejected \(rejected by/,
    );
    // A rolled-back-to version is a person's choice too, but a waiting one cannot be rolled back to.
    expectStatus(
      await failure(
        unary(client.rollbackModel.bind(client), { modelVersion: "v4", reason: "" }, bearer(ADMIN_TOKEN)),
      ),
      status.FAILED_PRECONDITION,
      /rejected/,
    );
  };

  // One story, so one test: each step builds on the registry the step before left (a
  // pending candidate, a superseded one, an approval). As one test it cannot run out of order.
  it("holds, refuses, supersedes, survives a restart, approves and rejects, in that order", async () => {
    await step1();
    await step2();
    await step3();
    await step4();
    await step5();
  });
});
