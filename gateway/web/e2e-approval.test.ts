/**
 * The page's approval view, end to end in a real browser: RetrainService (real training
 * worker, SQLite in a temp folder) and the grpc-web bridge, both trusting the development
 * issuer of `npm start -- --auth dev`. Five clinicians' verdicts make a candidate whose
 * served answers change class (APPROVAL_MAX_CLASS_CHANGE 0 here): a clinician sees that a
 * change waits for review and no buttons, and the gateway refuses the decision to them; an
 * admin sees the evidence and approves one candidate (it serves) and rejects the next.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Metadata } from "@grpc/grpc-js";
import { type Browser, type BrowserContext, type Page } from "playwright-core";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelVersionStatus } from "../../services/gen/liver/v1/model.js";
import { type RetrainServiceClient } from "../../services/gen/liver/v1/retrain_service.js";
import { startRetrainServer, type RetrainServerHandle } from "../../services/retrain/retrain-server.js";
import { prevalenceShiftBatch } from "../../services/retrain/testing/prevalence-shift-batch.js";
import { retrainClient, unary } from "../../services/retrain/testing/retrain-clients.js";
import {
  PERMISSIVE_GATE_POLICY,
  seededRandom,
  testConfig,
} from "../../services/retrain/testing/retrain-fixtures.js";
import { readAuthConfig, type AuthConfig } from "../../services/shared/auth/auth-config.js";
import { CallerAuthenticator } from "../../services/shared/auth/caller-authenticator.js";
import { DEV_ISSUER, DevIssuer } from "../../services/shared/auth/dev-issuer.js";
import { FeedbackTokenSigner } from "../../services/shared/feedback/feedback-token.js";
import { testBrowserTrustedCa, testTlsEnabled } from "../../services/shared/testing/test-tls.js";
import { TestGrpcWebBridge } from "../bridge/testing/test-bridge.js";
import { buildWeb } from "./build.js";
import { launchHeadlessChromium, skipWithoutChromium } from "./testing/headless-chromium.js";

const SKIP = skipWithoutChromium("gateway/web/e2e-approval.test.ts", testTlsEnabled());
const WAIT_MS = 60_000;
const BATCH = 150;
const CLINICIANS = ["alice", "bob", "carol", "dave", "erin"];

describe.skipIf(SKIP)("the approval view, in headless Chromium", () => {
  const silent = pino({ level: process.env["TEST_LOG_LEVEL"] ?? "silent" });
  const cleanups: (() => Promise<unknown>)[] = [];
  const random = seededRandom(99);
  let issuer: DevIssuer;
  let signer: FeedbackTokenSigner;
  let retrain: RetrainServerHandle;
  let client: RetrainServiceClient;
  let baseUrl: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let modelPath: string;

  const tempDir = async (prefix: string): Promise<string> => {
    const dir = await mkdtemp(path.join(tmpdir(), prefix));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  };

  /**
   * One run's worth of verdicts on the serving version's answers whose outcomes keep its
   * ranking but claim another prevalence (`shift` log-odds): the default site's calibration
   * moves, and with it predicted classes. Resolves when the run is recorded.
   */
  const sendBatch = async (shift: number): Promise<void> => {
    const serving = (await unary(client.listModelVersions.bind(client), {})).modelVersion;
    const batch = await prevalenceShiftBatch({
      modelPath,
      modelVersion: serving,
      count: BATCH,
      shift,
      random,
      principals: CLINICIANS.map((subject) => `${DEV_ISSUER}|${subject}`),
    });
    for (const [i, { record, verdict }] of batch.entries()) {
      const subject = CLINICIANS[i % CLINICIANS.length] ?? "alice";
      const metadata = new Metadata();
      metadata.set("authorization", `Bearer ${await issuer.mint(subject, ["liver-clinician"], 600)}`);
      await unary(
        client.submitFeedback.bind(client),
        { feedbackToken: signer.sign(record), verdict },
        metadata,
      );
    }
    await retrain.scheduler.whenIdle();
  };

  const signInAs = async (subject: string, roles: string[]): Promise<void> => {
    await context.clearCookies();
    const token = await issuer.mint(subject, roles, 600);
    await context.addCookies([
      { name: "BearerToken", value: token, url: baseUrl, httpOnly: true, sameSite: "Strict" },
    ]);
    await page.goto(baseUrl);
    await page.waitForSelector("#signed-in:not([hidden])", { timeout: WAIT_MS });
  };

  const statusOf = async (modelVersion: string): Promise<ModelVersionStatus | undefined> =>
    (await unary(client.listModelVersions.bind(client), {})).versions.find(
      (v) => v.modelVersion === modelVersion,
    )?.status;

  beforeAll(async () => {
    const dataPath = await tempDir("web-approval-data-");
    issuer = await DevIssuer.loadOrCreate(dataPath);
    const auth = readAuthConfig(issuer.serviceEnv()) as AuthConfig;
    const signingKey = randomBytes(32);
    signer = new FeedbackTokenSigner(signingKey);
    modelPath = await tempDir("web-approval-models-");
    const web = await buildWeb({ outDir: path.join(await tempDir("web-approval-dist-"), "dist") });
    retrain = await startRetrainServer(
      {
        ...testConfig(dataPath, signingKey, {
          heartbeatIntervalMs: 1_000,
          shutdownGraceMs: 200,
          minBatch: BATCH,
          // Every class change waits for a person: the lowest value of APPROVAL_MAX_CLASS_CHANGE.
          gatePolicy: { ...PERMISSIVE_GATE_POLICY, approvalMaxClassChange: 0 },
          auth,
        }),
        dataPath,
        modelPath,
      },
      silent,
      { syntheticRows: 600, defaultMetrics: false },
    );
    cleanups.push(() => retrain.close());
    await retrain.scheduler.whenIdle();
    client = retrainClient(retrain.port);
    cleanups.push(() => Promise.resolve(client.close()));
    const bridge = new TestGrpcWebBridge({
      // No Predict replica: this page only reviews versions (the form waits for Predict).
      predictAddresses: ["127.0.0.1:1"],
      retrainAddress: `127.0.0.1:${retrain.port}`,
      webRoot: web.outDir,
      logger: silent,
      auth: new CallerAuthenticator(auth),
    });
    const { port } = await bridge.listen(0, "127.0.0.1");
    cleanups.push(() => bridge.close());
    baseUrl = `${TestGrpcWebBridge.url(port)}/`;
    browser = await launchHeadlessChromium({ trustedCa: testBrowserTrustedCa() });
    cleanups.push(() => browser.close());
    context = await browser.newContext({ viewport: { width: 1100, height: 1200 } });
    page = await context.newPage();
    await sendBatch(-3);
  });

  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  it("tells a clinician that a change waits for review, without evidence or buttons", async () => {
    expect(await statusOf("v2")).toBe(ModelVersionStatus.MODEL_VERSION_STATUS_PENDING_APPROVAL);
    await signInAs("alice", ["liver-clinician"]);
    await page.waitForSelector("#pending-approval:not([hidden])", { timeout: WAIT_MS });
    expect(await page.textContent("#pending-approval")).toContain(
      "A model change (v2) waits for review by an administrator. Until it is approved, answers keep coming from v1.",
    );
    expect(await page.locator("#approve-button").count()).toBe(0);
    expect(await page.locator(".approval-evidence").count()).toBe(0);
  });

  it("refuses the decision to a clinician at the gateway, whatever the page shows", async () => {
    const answer = await page.evaluate(async () => {
      const response = await fetch("/liver.v1.RetrainService/ApproveModelVersion", {
        method: "POST",
        headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
        body: new Uint8Array([0, 0, 0, 0, 0]),
      });
      return { status: response.headers.get("grpc-status"), message: response.headers.get("grpc-message") };
    });
    expect(answer.status).toBe("7");
    expect(decodeURIComponent(answer.message ?? "")).toMatch(
      /ApproveModelVersion needs the liver-admin role/,
    );
    expect(await statusOf("v2")).toBe(ModelVersionStatus.MODEL_VERSION_STATUS_PENDING_APPROVAL);
  });

  it("shows an admin the evidence and approves: the candidate serves and the notice goes", async () => {
    await signInAs("root", ["liver-admin"]);
    await page.waitForSelector("#approve-button", { timeout: WAIT_MS });
    expect(await page.textContent("#pending-approval")).toContain("Compared with approved v1");
    const population = page.locator('.approval-evidence tr[data-site="default"][data-slice="population"]');
    expect(await population.count()).toBe(1);
    expect(await page.locator('.approval-evidence tr[data-slice="total_bilirubin>3"]').count()).toBe(1);
    expect(await page.textContent(".approval-feedback")).toMatch(
      new RegExp(
        `^${BATCH} labelled feedback\\(s\\) from ${CLINICIANS.length} source\\(s\\) and ${CLINICIANS.length} signed-in principal`,
      ),
    );
    expect(await page.textContent(".approval-sources")).toContain(`${DEV_ISSUER}|alice`);
    // No reason: nothing is sent.
    await page.click("#approve-button");
    expect(await page.textContent(".approval-message")).toBe("Say why (for the registry and the audit log).");
    expect(await statusOf("v2")).toBe(ModelVersionStatus.MODEL_VERSION_STATUS_PENDING_APPROVAL);
    await page.fill("#approval-reason", "Checked the slices with the clinic lead");
    await page.click("#approve-button");
    await page.waitForSelector("#pending-approval[hidden]", { state: "attached", timeout: WAIT_MS });
    expect(await statusOf("v2")).toBe(ModelVersionStatus.MODEL_VERSION_STATUS_SERVING);
    const v2 = (await unary(client.listModelVersions.bind(client), {})).versions.find(
      (v) => v.modelVersion === "v2",
    );
    expect(v2?.approval?.decidedBy).toBe(`${DEV_ISSUER}|root`);
    expect(v2?.approval?.decisionReason).toBe("Checked the slices with the clinic lead");
  });

  it("shows the next waiting candidate as it is announced, and rejects it", async () => {
    await sendBatch(3);
    await page.waitForSelector("#reject-button", { timeout: WAIT_MS });
    expect(await page.getAttribute("#pending-approval", "data-pending-version")).toBe("v3");
    expect(await page.textContent("#pending-approval")).toContain("Compared with approved v2");
    await page.fill("#approval-reason", "One clinic's verdicts; asking them first");
    await page.click("#reject-button");
    await page.waitForSelector("#pending-approval[hidden]", { state: "attached", timeout: WAIT_MS });
    expect(await statusOf("v3")).toBe(ModelVersionStatus.MODEL_VERSION_STATUS_REJECTED);
    expect((await unary(client.listModelVersions.bind(client), {})).modelVersion).toBe("v2");
  });
});
