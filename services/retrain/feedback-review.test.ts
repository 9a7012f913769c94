import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { pino } from "pino";
import { cpSync } from "node:fs";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { TestGrpcWebBridge } from "../../gateway/bridge/testing/test-bridge.js";
import { grpcWebCall } from "../../gateway/bridge/testing/grpc-web-fetch-client.js";
import {
  FeedbackAuditAction,
  FeedbackState,
  FeedbackVerdict,
  ListFeedbackRequest,
  SubmitFeedbackRequest,
  SubmitFeedbackResponse,
  type FeedbackSelector,
  type ListFeedbackResponse,
  type RetrainServiceClient,
} from "../gen/liver/v1/retrain_service.js";
import type { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import { parseTrustedAddresses } from "./feedback-attribution.js";
import type { FeedbackScreen } from "./feedback-screen.js";
import { storeFilePath, type RetrainConfig } from "./retrain-config.js";
import { startRetrainServer, type RetrainServerHandle } from "./retrain-server.js";
import { SOURCE_WINDOW_MS } from "./source-rate-limiter.js";
import { FeedbackStore } from "./store/feedback-store.js";
import { openSqliteStore } from "./store/sqlite-store.js";
import { HoldableTrainer } from "./testing/holdable-trainer.js";
import { bearer, expectStatus, failure, retrainClient, unary } from "./testing/retrain-clients.js";
import { prediction, tempDir, testConfig, testSigner } from "./testing/retrain-fixtures.js";
import { WorkerTrainer } from "./training-worker.js";

const ADMIN_TOKEN = "review-admin-token-0123456789abcdef";
const silent = pino({ level: "silent" });
const { CORRECT, WRONG, UNKNOWN } = {
  CORRECT: FeedbackVerdict.FEEDBACK_VERDICT_CORRECT,
  WRONG: FeedbackVerdict.FEEDBACK_VERDICT_WRONG,
  UNKNOWN: FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN,
};
/** total_bilirubin (index 2) above this is quarantined by the test's screen. */
const IMPLAUSIBLE_BILIRUBIN = 60;
const bilirubinScreen: FeedbackScreen = {
  screen: ({ features }) =>
    (features[2] ?? 0) > IMPLAUSIBLE_BILIRUBIN
      ? { state: "quarantined", reason: `total bilirubin ${String(features[2])} is implausible` }
      : { state: "trained" },
};

/** An enum number the proto does not define, decoded as a newer client could send it. */
const UNKNOWN_STATE: FeedbackState = ListFeedbackRequest.decode(Uint8Array.from([0x20, 0x63])).state;
const UNKNOWN_VERDICT: FeedbackVerdict = ListFeedbackRequest.decode(Uint8Array.from([0x18, 0x2a])).verdict;

function forwardedFor(address: string): Metadata {
  const metadata = new Metadata();
  metadata.set("x-forwarded-for", address);
  return metadata;
}

/** Sources, labels and states of the training rows a run would read now. */
function trainingSources(config: RetrainConfig): string[] {
  const db = openSqliteStore(storeFilePath(config), { readonly: true });
  try {
    return new FeedbackStore(db).labelledRows(Number.MAX_SAFE_INTEGER).sources;
  } finally {
    db.close();
  }
}

function runsInStore(config: RetrainConfig): { trigger: string; outcome: string | null }[] {
  const db = openSqliteStore(storeFilePath(config), { readonly: true });
  try {
    return db
      .prepare<[], { trigger: string; outcome: string | null }>(
        "SELECT trigger, outcome FROM retrain_runs ORDER BY seq",
      )
      .all();
  } finally {
    db.close();
  }
}

/** Calls used by both describe blocks. */
function calls(getClient: () => RetrainServiceClient, signer: () => FeedbackTokenSigner) {
  const admin = bearer(ADMIN_TOKEN);
  return {
    submit: (verdict: FeedbackVerdict, metadata = new Metadata(), features?: Float64Array) => {
      const client = getClient();
      const made = prediction(features === undefined ? { diagnosis: 1 } : { diagnosis: 1, features });
      return unary(
        client.submitFeedback.bind(client),
        { feedbackToken: signer().sign(made), verdict },
        metadata,
      );
    },
    list: (request: Partial<ListFeedbackRequest>, metadata = admin): Promise<ListFeedbackResponse> => {
      const client = getClient();
      return unary(client.listFeedback.bind(client), ListFeedbackRequest.fromPartial(request), metadata);
    },
    exclude: (selector: Partial<FeedbackSelector> | undefined, reason: string, metadata = admin) => {
      const client = getClient();
      return unary(
        client.excludeFeedback.bind(client),
        {
          selector:
            selector === undefined
              ? undefined
              : { feedbackIds: [], source: "", received: undefined, ...selector },
          reason,
        },
        metadata,
      );
    },
    release: (selector: Partial<FeedbackSelector>, reason: string, metadata = admin) => {
      const client = getClient();
      return unary(
        client.releaseFeedback.bind(client),
        { selector: { feedbackIds: [], source: "", received: undefined, ...selector }, reason },
        metadata,
      );
    },
    audit: (pageSize = 0, pageToken = "", metadata = admin) => {
      const client = getClient();
      return unary(client.listFeedbackAudit.bind(client), { pageSize, pageToken }, metadata);
    },
  };
}

describe("feedback attribution and operator review (real server, real SQLite, real bridge)", () => {
  /** A store with v1 trained; each test runs on its own copy and makes its own feedback. */
  let template: ReturnType<typeof tempDir>;
  let tmp: ReturnType<typeof tempDir>;
  let config: RetrainConfig;
  let signer: FeedbackTokenSigner;
  let trainer: HoldableTrainer;
  let server: RetrainServerHandle;
  let client: RetrainServiceClient;
  const api = calls(
    () => client,
    () => signer,
  );

  async function start(): Promise<void> {
    trainer = new HoldableTrainer(WorkerTrainer.forConfig(config, silent));
    server = await startRetrainServer(config, silent, {
      trainer,
      syntheticRows: 400,
      defaultMetrics: false,
      screen: bilirubinScreen,
    });
    client = retrainClient(server.port);
    await server.scheduler.whenIdle();
  }

  async function stop(): Promise<void> {
    client.close();
    await server.close();
  }

  let key: Buffer;
  beforeAll(async () => {
    template = tempDir();
    const keys = testSigner();
    key = keys.key;
    signer = keys.signer;
    config = testConfig(template.dir, key, { adminToken: ADMIN_TOKEN });
    await start();
    await stop();
  });

  afterAll(() => template.remove());

  beforeEach(async () => {
    tmp = tempDir();
    cpSync(template.dir, tmp.dir, { recursive: true });
    config = testConfig(tmp.dir, key, { adminToken: ADMIN_TOKEN });
    await start();
  });

  afterEach(async () => {
    await stop();
    tmp.remove();
  });

  /** A burst from 192.0.2.10: five labelled verdicts (oldest first) and one don't-know. */
  const burst = async (): Promise<{ ids: string[]; unsure: string }> => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await api.submit(i % 2 === 0 ? CORRECT : WRONG, forwardedFor("192.0.2.10"))).feedbackId);
    const unsure = (await api.submit(UNKNOWN, forwardedFor("192.0.2.10"))).feedbackId;
    // Let the retrains the burst scheduled finish, so a later change is not folded into them.
    await server.scheduler.whenIdle();
    return { ids, unsure };
  };

  /** One row the test screen quarantines, from 192.0.2.66. */
  const quarantinedRow = async (): Promise<string> => {
    const features = prediction().features;
    features[2] = 75;
    return (await api.submit(CORRECT, forwardedFor("192.0.2.66"), features)).feedbackId;
  };

  it("records the peer and the address a trusted gateway forwarded; the source is that address", async () => {
    const answer = await api.submit(CORRECT, forwardedFor("198.51.100.1, 203.0.113.9"));
    const [row] = (await api.list({ source: "203.0.113.9" })).feedback;
    expect(row).toMatchObject({
      feedbackId: answer.feedbackId,
      source: "203.0.113.9",
      clientAddress: "203.0.113.9",
      principal: "",
      state: FeedbackState.FEEDBACK_STATE_TRAINED,
      verdict: CORRECT,
    });
    expect(row?.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(row?.features).toHaveLength(10);
    // The typed patient carries the same values as the positional list.
    expect(row?.patient?.age).toBe(row?.features[0]);
    expect(row?.patient?.albuminGlobulinRatio).toBe(row?.features[9]);
    const direct = await api.submit(CORRECT);
    const stored = (await api.list({ source: "127.0.0.1" })).feedback.find(
      (f) => f.feedbackId === direct.feedbackId,
    );
    expect(stored).toMatchObject({ clientAddress: "", source: "127.0.0.1" });
  });

  it("survives a huge or garbage x-forwarded-for: never a crash, never a forged attribution", async () => {
    const garbage = await api.submit(CORRECT, forwardedFor("192.0.2.1, <script>, ::not-ip"));
    const huge = await api.submit(CORRECT, forwardedFor(`${"10.9.9.9, ".repeat(600)}192.0.2.55`));
    const rows = (await api.list({ source: "127.0.0.1" })).feedback.map((f) => f.feedbackId);
    expect(rows).toContain(garbage.feedbackId);
    expect((await api.list({ source: "192.0.2.55" })).feedback.map((f) => f.feedbackId)).toEqual([
      huge.feedbackId,
    ]);
    // Beyond grpc-js's metadata limit the call is refused before the handler; the server lives on.
    const oversized = await failure(api.submit(CORRECT, forwardedFor("1.2.3.4, ".repeat(20_000))));
    expect(oversized.code).not.toBe(status.OK);
    expect((await api.submit(UNKNOWN)).duplicate).toBe(false);
  });

  it("attributes feedback sent through the grpc-web bridge to the browser's address, not to a spoofed header", async () => {
    const bridge = new TestGrpcWebBridge({
      predictAddresses: ["127.0.0.1:1"],
      retrainAddress: `127.0.0.1:${server.port}`,
      corsOrigins: [],
      webRoot: tmp.dir,
      logger: silent,
    });
    // The browser comes from ::1, the bridge calls the service from 127.0.0.1: two addresses.
    const { port } = await bridge.listen(0, "::1");
    try {
      const token = signer.sign(prediction({ diagnosis: 2 }));
      const reply = await grpcWebCall(
        TestGrpcWebBridge.url(port, "[::1]"),
        "/liver.v1.RetrainService/SubmitFeedback",
        SubmitFeedbackRequest.encode({ feedbackToken: token, verdict: WRONG }).finish(),
        { headers: { "x-forwarded-for": "203.0.113.200" } },
      );
      expect(reply.code).toBe(status.OK);
      const { feedbackId } = SubmitFeedbackResponse.decode(reply.messages[0] ?? new Uint8Array());
      const [row] = (await api.list({ source: "0:0:0:0::/64" })).feedback;
      expect(row).toMatchObject({ feedbackId, clientAddress: "::1", source: "0:0:0:0::/64" });
      expect(row?.peer).toMatch(/^127\.0\.0\.1:\d+$/);
      expect((await api.list({ source: "203.0.113.200" })).feedback).toEqual([]);
    } finally {
      await bridge.close();
    }
  });

  it("filters by source, verdict, state and time, and pages newest first with opaque tokens", async () => {
    const before = new Date();
    const made = await burst();
    const ids = made.ids;
    const unsure = { feedbackId: made.unsure };
    const seen: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await api.list({ source: "192.0.2.10", pageSize: 2, pageToken: token });
      seen.push(...page.feedback.map((f) => f.feedbackId));
      token = page.nextPageToken;
      pages++;
    } while (token !== "" && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual([unsure.feedbackId, ...[...ids].reverse()]);

    const unknown = await api.list({ source: "192.0.2.10", verdict: UNKNOWN });
    expect(unknown.feedback.map((f) => [f.feedbackId, f.state])).toEqual([
      [unsure.feedbackId, FeedbackState.FEEDBACK_STATE_UNLABELLED],
    ]);
    const wrong = await api.list({ source: "192.0.2.10", verdict: WRONG });
    expect(wrong.feedback.map((f) => f.feedbackId)).toEqual([ids[3], ids[1]]);
    const trained = await api.list({ source: "192.0.2.10", state: FeedbackState.FEEDBACK_STATE_TRAINED });
    expect(trained.feedback).toHaveLength(5);
    const inRange = await api.list({ received: { start: before, end: new Date(Date.now() + 1000) } });
    expect(inRange.feedback.map((f) => f.feedbackId).sort()).toEqual([...ids, unsure.feedbackId].sort());
    const later = await api.list({ received: { start: new Date(Date.now() + 60_000), end: undefined } });
    expect(later.feedback).toEqual([]);

    const first = await api.list({ source: "192.0.2.10", pageSize: 2 });
    expectStatus(
      await failure(api.list({ source: "203.0.113.9", pageSize: 2, pageToken: first.nextPageToken })),
      status.INVALID_ARGUMENT,
      /page_token was issued for other filters/,
    );
  });

  it("refuses bad review requests with INVALID_ARGUMENT naming the field, and changes nothing", async () => {
    const cases: [Promise<unknown>, RegExp][] = [
      [api.list({ state: UNKNOWN_STATE }), /state has unknown enum value 99/],
      [api.list({ verdict: UNKNOWN_VERDICT }), /verdict has unknown enum value 42/],
      [
        api.list({ received: { start: new Date(2_000_000), end: new Date(1_000_000) } }),
        /received.start \(.*\) must be before received.end/,
      ],
      [api.list({ pageSize: 5000 }), /page_size is 5000; at most 1000/],
      [api.list({ pageToken: "not a token!" }), /page_token is not a token this server issued/],
      [
        api.list({ pageToken: Buffer.from('{"k":"audit","b":5,"f":""}').toString("base64url") }),
        /page_token/,
      ],
      [api.list({ source: "x".repeat(201) }), /source is 201 characters/],
      [api.audit(0, "eyJrIjoiZmVlZGJhY2sifQ"), /page_token is not a token this server issued/],
      [api.exclude(undefined, "spam"), /selector is required/],
      [api.exclude({}, "spam"), /selector is required/],
      [api.exclude({ source: "192.0.2.10" }, ""), /reason is required/],
      [api.exclude({ source: "192.0.2.10" }, "x".repeat(201)), /reason is 201 characters/],
      [
        api.exclude({ feedbackIds: Array.from({ length: 1001 }, (_, i) => `id-${i}`) }, "spam"),
        /selector.feedback_ids names 1001 ids; at most 1000/,
      ],
      [
        api.exclude({ feedbackIds: ["ok-id", "bad id;"] }, "spam"),
        /selector.feedback_ids\[1\] is not a feedback id/,
      ],
      [
        api.release({ received: { start: new Date(5_000), end: new Date(5_000) } }, "oops"),
        /selector.received.start .* must be before selector.received.end/,
      ],
    ];
    for (const [call, message] of cases) expectStatus(await failure(call), status.INVALID_ARGUMENT, message);
    expectStatus(
      await failure(api.exclude({ feedbackIds: ["00000000-0000-4000-8000-000000000000"] }, "spam")),
      status.NOT_FOUND,
      /00000000-0000-4000-8000-000000000000 are not stored feedback/,
    );
    expect((await api.audit()).entries).toEqual([]);
  });

  it("refuses the review RPCs without the admin token, or with a wrong one", async () => {
    await burst();
    const wrong = bearer("not-the-admin-token-at-all-0000");
    const none = new Metadata();
    for (const [metadata, code] of [
      [none, status.UNAUTHENTICATED],
      [wrong, status.PERMISSION_DENIED],
    ] as const) {
      expectStatus(
        await failure(api.list({}, metadata)),
        code,
        /ListFeedback is an admin RPC|not this RetrainService's ADMIN_TOKEN/,
      );
      expectStatus(
        await failure(api.exclude({ source: "192.0.2.10" }, "x", metadata)),
        code,
        /ExcludeFeedback|ADMIN_TOKEN/,
      );
      expectStatus(
        await failure(api.release({ source: "192.0.2.10" }, "x", metadata)),
        code,
        /ReleaseFeedback|ADMIN_TOKEN/,
      );
      expectStatus(await failure(api.audit(0, "", metadata)), code, /ListFeedbackAudit|ADMIN_TOKEN/);
    }
    expect(trainingSources(config).filter((s) => s === "192.0.2.10")).toHaveLength(5);
  });

  it("quarantines what the screen rejects: stored and listed with its reason, never trained, no retrain", async () => {
    const features = prediction().features;
    features[2] = 75;
    const answer = await api.submit(CORRECT, forwardedFor("192.0.2.66"), features);
    expect(answer.retrainScheduled).toBe(false);
    const quarantined = await api.list({ state: FeedbackState.FEEDBACK_STATE_QUARANTINED });
    expect(quarantined.feedback.map((f) => [f.feedbackId, f.stateReason])).toEqual([
      [answer.feedbackId, "total bilirubin 75 is implausible"],
    ]);
    expect(trainingSources(config)).not.toContain("192.0.2.66");
    const scrape = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
    expect(scrape).toMatch(/^liver_retrain_feedback_quarantined_total 1$/m);
  });

  it("excludes a source: the rows stop training, a retrain runs, and the audit log says who, what and why", async () => {
    await burst();
    await api.submit(CORRECT, forwardedFor("203.0.113.9"));
    await server.scheduler.whenIdle();
    const finished = new Promise<string>((resolve) =>
      server.events.once("run-finished", (outcome) => resolve(outcome)),
    );
    const runsBefore = trainer.requests.length;
    const { change } = await api.exclude({ source: "192.0.2.10" }, "burst of implausible verdicts");
    expect(change).toMatchObject({ affected: 5, retrainScheduled: true, unlabelledSkipped: 1 });
    expect(await finished).not.toBe("failed");
    expect(trainer.requests.length).toBe(runsBefore + 1);
    expect(runsInStore(config).at(-1)).toMatchObject({ trigger: "admin" });
    expect(trainingSources(config)).not.toContain("192.0.2.10");
    expect(trainingSources(config)).toContain("203.0.113.9");
    const excluded = await api.list({ state: FeedbackState.FEEDBACK_STATE_EXCLUDED });
    expect(excluded.feedback).toHaveLength(5);
    expect(
      excluded.feedback.every(
        (f) => f.stateReason === "burst of implausible verdicts" && f.stateChangedAt !== undefined,
      ),
    ).toBe(true);
    const [entry] = (await api.audit()).entries;
    expect(entry).toMatchObject({
      seq: change?.auditSeq,
      actor: "break-glass",
      action: FeedbackAuditAction.FEEDBACK_AUDIT_ACTION_EXCLUDE,
      selector: { source: "192.0.2.10", feedbackIds: [] },
      reason: "burst of implausible verdicts",
      affected: 5,
    });
    expect(entry?.affectedFeedbackIds.sort()).toEqual(excluded.feedback.map((f) => f.feedbackId).sort());
    // Excluding again changes nothing and schedules nothing, but is still audited.
    const again = await api.exclude({ source: "192.0.2.10" }, "double check");
    expect(again.change).toMatchObject({ affected: 0, retrainScheduled: false });
  });

  it("releases by id, including a quarantined row; a don't-know row cannot be released", async () => {
    await burst();
    await quarantinedRow();
    await api.exclude({ source: "192.0.2.10" }, "burst of implausible verdicts");
    await api.exclude({ source: "192.0.2.10" }, "double check");
    await server.scheduler.whenIdle();
    const excluded = (await api.list({ state: FeedbackState.FEEDBACK_STATE_EXCLUDED })).feedback;
    const quarantined = (await api.list({ state: FeedbackState.FEEDBACK_STATE_QUARANTINED })).feedback;
    const chosen = [excluded[0]?.feedbackId ?? "", quarantined[0]?.feedbackId ?? ""];
    const finished = new Promise<string>((resolve) =>
      server.events.once("run-finished", (outcome) => resolve(outcome)),
    );
    const { change } = await api.release({ feedbackIds: chosen }, "checked with the clinic");
    expect(change).toMatchObject({ affected: 2, retrainScheduled: true });
    await finished;
    expect(trainingSources(config).filter((s) => s === "192.0.2.10")).toHaveLength(1);
    expect(trainingSources(config)).toContain("192.0.2.66");
    const unsure = (await api.list({ verdict: UNKNOWN, source: "192.0.2.10" })).feedback[0]?.feedbackId ?? "";
    expectStatus(
      await failure(api.release({ feedbackIds: [unsure] }, "try")),
      status.FAILED_PRECONDITION,
      /don't-know verdict: it has no label, so it cannot be released/,
    );
    const actions = (await api.audit()).entries.map((e) => e.action);
    expect(actions).toEqual([
      FeedbackAuditAction.FEEDBACK_AUDIT_ACTION_RELEASE,
      FeedbackAuditAction.FEEDBACK_AUDIT_ACTION_EXCLUDE,
      FeedbackAuditAction.FEEDBACK_AUDIT_ACTION_EXCLUDE,
    ]);
    const firstPage = await api.audit(2);
    expect(firstPage.entries).toHaveLength(2);
    const secondPage = await api.audit(2, firstPage.nextPageToken);
    expect(secondPage.entries.map((e) => e.reason)).toEqual(["burst of implausible verdicts"]);
    expect(secondPage.nextPageToken).toBe("");
  });

  it("loses nothing across a restart in the middle: states, audit, and the retrain the change still needs", async () => {
    await api.submit(CORRECT, forwardedFor("203.0.113.9"));
    await server.scheduler.whenIdle();
    trainer.failNext(new Error("the process died during the run"));
    const failed = new Promise<string>((resolve) =>
      server.events.once("run-finished", (outcome) => resolve(outcome)),
    );
    await api.exclude({ source: "203.0.113.9" }, "second look: also suspicious");
    expect(await failed).toBe("failed");
    const listed = (await api.list({ pageSize: 1000 })).feedback;
    const audit = (await api.audit()).entries;
    await stop();
    await start();
    expect((await api.list({ pageSize: 1000 })).feedback).toEqual(listed);
    expect((await api.audit()).entries).toEqual(audit);
    const lastRun = runsInStore(config).at(-1);
    expect(lastRun?.trigger).toBe("recovery");
    expect(lastRun?.outcome).toMatch(/promoted|rejected/);
    expect(trainingSources(config)).not.toContain("203.0.113.9");
  });
});

describe("per-source hourly limit (real server, real SQLite)", () => {
  let tmp: ReturnType<typeof tempDir>;
  let config: RetrainConfig;
  let signer: FeedbackTokenSigner;
  let server: RetrainServerHandle;
  let client: RetrainServiceClient;
  let offsetMs = 0;
  const api = calls(
    () => client,
    () => signer,
  );

  async function start(): Promise<void> {
    server = await startRetrainServer(config, silent, {
      syntheticRows: 300,
      defaultMetrics: false,
      now: () => Date.now() + offsetMs,
    });
    client = retrainClient(server.port);
    await server.scheduler.whenIdle();
  }

  beforeAll(async () => {
    tmp = tempDir();
    const keys = testSigner();
    signer = keys.signer;
    // The test client's peer (127.0.0.1) is no gateway here, so its x-forwarded-for is ignored.
    config = testConfig(tmp.dir, keys.key, {
      feedbackPerSourcePerHour: 3,
      trustedGateways: parseTrustedAddresses("10.0.0.0/8"),
      minBatch: 1_000_000,
    });
    await start();
  });

  afterAll(async () => {
    client.close();
    await server.close();
    tmp.remove();
  });

  it("answers RESOURCE_EXHAUSTED with the seconds to wait, keeps the count across a restart, and lets don't-know through", async () => {
    for (let i = 0; i < 3; i++) await api.submit(CORRECT, forwardedFor(`192.0.2.${i}`));
    let refused: ServiceError | undefined;
    try {
      await api.submit(WRONG, forwardedFor("192.0.2.99"));
    } catch (error) {
      refused = error as ServiceError;
    }
    expect(refused?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(refused?.details).toMatch(
      /source 127\.0\.0\.1 sent 3 labelled feedbacks within the last hour.*; retry in (\d+) s/,
    );
    const seconds = Number(/retry in (\d+) s/.exec(refused?.details ?? "")?.[1]);
    expect(seconds).toBeGreaterThan(3500);
    expect(seconds).toBeLessThanOrEqual(3600);
    expect(refused?.metadata.get("retry-after")).toEqual([String(seconds)]);
    expect((await api.submit(UNKNOWN)).duplicate).toBe(false);
    const scrape = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
    expect(scrape).toMatch(/^liver_retrain_feedback_source_limited_total 1$/m);

    client.close();
    await server.close();
    await start();
    expectStatus(await failure(api.submit(CORRECT)), status.RESOURCE_EXHAUSTED, /retry in \d+ s/);

    offsetMs = SOURCE_WINDOW_MS + 1_000;
    client.close();
    await server.close();
    await start();
    expect((await api.submit(CORRECT)).duplicate).toBe(false);
  });
});
