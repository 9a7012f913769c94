/**
 * The verdict outbox in a real browser against the real system with sign-in on: RetrainService
 * (closed and restarted on the same port and data folder), one PredictService replica, the
 * grpc-web bridge (reaching Retrain through a proxy that can lose an answer after the commit),
 * and the built page in headless Chromium. Outages here last seconds; the 30-second targets
 * are measured by scripts/bench/outbox-outage.ts.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { type Browser, type BrowserContext, type Page } from "playwright-core";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestGrpcWebBridge } from "../bridge/testing/test-bridge.js";
import { startPredictServer } from "../../services/predict/predict-server.js";
import { waitUntil } from "../../services/predict/testing/wait-until.js";
import { storeFilePath, type RetrainConfig } from "../../services/retrain/retrain-config.js";
import { startRetrainServer, type RetrainServerHandle } from "../../services/retrain/retrain-server.js";
import { testConfig } from "../../services/retrain/testing/retrain-fixtures.js";
import { readAuthConfig, type AuthConfig } from "../../services/shared/auth/auth-config.js";
import { CallerAuthenticator } from "../../services/shared/auth/caller-authenticator.js";
import { DevIssuer } from "../../services/shared/auth/dev-issuer.js";
import {
  testBrowserTrustedCa,
  testServerTls,
  testTlsEnabled,
} from "../../services/shared/testing/test-tls.js";
import { buildWeb } from "./build.js";
import { HoldingProxy } from "./testing/holding-proxy.js";
import { launchHeadlessChromium, skipWithoutChromium } from "./testing/headless-chromium.js";

const SKIP = skipWithoutChromium("gateway/web/e2e-outbox.test.ts", testTlsEnabled());
const WAIT_MS = 30_000;

const PATIENT: readonly [string, string][] = [
  ["age", "52"],
  ["total_bilirubin", "3.1"],
  ["direct_bilirubin", "1.4"],
  ["alkaline_phosphatase", "310"],
  ["alanine_aminotransferase", "88"],
  ["aspartate_aminotransferase", "120"],
  ["total_proteins", "6.2"],
  ["albumin", "2.9"],
  ["albumin_globulin_ratio", "0.9"],
];

/** A patient every model of this data answers with near certainty: liver disease. */
const JAUNDICED: readonly [string, string][] = [
  ["age", "60"],
  ["total_bilirubin", "40"],
  ["direct_bilirubin", "20"],
  ["alkaline_phosphatase", "2500"],
  ["alanine_aminotransferase", "2000"],
  ["aspartate_aminotransferase", "3000"],
  ["total_proteins", "5"],
  ["albumin", "1.5"],
  ["albumin_globulin_ratio", "0.3"],
];

describe.skipIf(SKIP)("the verdict outbox in headless Chromium", () => {
  const silent = pino({ level: process.env["TEST_LOG_LEVEL"] ?? "silent" });
  const cleanups: (() => Promise<unknown>)[] = [];
  let issuer: DevIssuer;
  let retrainConfig: RetrainConfig;
  let retrain: RetrainServerHandle | undefined;
  let proxy: HoldingProxy;
  let baseUrl: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  const tempDir = async (prefix: string): Promise<string> => {
    const dir = await mkdtemp(path.join(tmpdir(), prefix));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  };

  const startRetrain = async (): Promise<void> => {
    retrain = await startRetrainServer(retrainConfig, silent, { syntheticRows: 400, defaultMetrics: false });
    retrainConfig = { ...retrainConfig, port: retrain.port };
  };
  const stopRetrain = async (): Promise<void> => {
    await retrain?.close();
    retrain = undefined;
  };

  /** Rows stored for a prediction (read from Retrain's own SQLite file). */
  const rowsFor = (predictionId: string): number => {
    const db = new Database(storeFilePath(retrainConfig), { readonly: true, fileMustExist: true });
    try {
      return (
        db
          .prepare<[string], number>("SELECT COUNT(*) FROM feedback WHERE prediction_id = ?")
          .pluck()
          .get(predictionId) ?? 0
      );
    } finally {
      db.close();
    }
  };

  const signIn = async (subject: string): Promise<void> => {
    const token = await issuer.mint(subject, ["liver-clinician"], 600);
    await context.addCookies([
      { name: "BearerToken", value: token, url: baseUrl, httpOnly: true, sameSite: "Strict" },
    ]);
  };

  /** Fills the form, predicts, and returns the new prediction's id. */
  const predict = async (values: readonly [string, string][] = PATIENT): Promise<string> => {
    const before = (await page.textContent("#result")) ?? "";
    for (const [name, value] of values) await page.fill(`#field-${name}`, value);
    await page.selectOption("#field-gender", "GENDER_MALE");
    await page.click("#predict-button");
    const id = await waitUntil(
      "a new prediction",
      async () => {
        const text = (await page.textContent("#result")) ?? "";
        const match = /Prediction ([0-9a-f-]{36})\./.exec(text);
        return match !== null && text !== before ? match[1] : undefined;
      },
      WAIT_MS,
    );
    await page.waitForSelector(".feedback:not([hidden]) button[data-verdict='1']:not([disabled])", {
      timeout: WAIT_MS,
    });
    return id;
  };

  beforeAll(async () => {
    const dataPath = await tempDir("web-outbox-data-");
    issuer = await DevIssuer.loadOrCreate(dataPath);
    const auth = readAuthConfig(issuer.serviceEnv()) as AuthConfig;
    const signingKey = randomBytes(32);
    const web = await buildWeb({ outDir: path.join(await tempDir("web-outbox-dist-"), "dist") });
    retrainConfig = {
      ...testConfig(dataPath, signingKey, {
        heartbeatIntervalMs: 1_000,
        shutdownGraceMs: 200,
        feedbackScreening: true,
        auth,
      }),
      dataPath,
      modelPath: await tempDir("web-outbox-models-"),
    };
    await startRetrain();
    cleanups.push(() => stopRetrain());
    const predictServer = await startPredictServer(
      {
        host: "127.0.0.1",
        port: 0,
        metricsPort: 0,
        retrainAddr: `127.0.0.1:${retrainConfig.port}`,
        signingKey,
        modelCachePath: await tempDir("web-outbox-cache-"),
        bundledModelPath: undefined,
        validateWithTfjs: false,
        explainPredictions: true,
        heartbeatTimeoutMs: 5_000,
        reconnectInitialMs: 50,
        reconnectMaxMs: 500,
        startupFallbackMs: 20_000,
        artifactFetchTimeoutMs: 10_000,
        shutdownGraceMs: 200,
        auth,
        tls: testServerTls(),
      },
      silent,
    );
    cleanups.push(() => predictServer.close(200));
    await predictServer.holder.waitFor(() => true, 2 * WAIT_MS);
    proxy = new HoldingProxy({ host: "127.0.0.1", port: retrainConfig.port });
    const proxyPort = await proxy.listen();
    cleanups.push(() => proxy.close());
    const bridge = new TestGrpcWebBridge({
      predictAddresses: [`127.0.0.1:${predictServer.port}`],
      retrainAddress: `127.0.0.1:${proxyPort}`,
      webRoot: web.outDir,
      logger: silent,
      auth: new CallerAuthenticator(auth),
    });
    const { port } = await bridge.listen(0, "127.0.0.1");
    cleanups.push(() => bridge.close());
    baseUrl = `${TestGrpcWebBridge.url(port)}/`;
    browser = await launchHeadlessChromium({ trustedCa: testBrowserTrustedCa() });
    cleanups.push(() => browser.close());
    context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    page = await context.newPage();
    await signIn("alice");
    await page.goto(baseUrl);
    await page.waitForSelector("#field-age", { timeout: WAIT_MS });
  }, 120_000);

  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  it("keeps verdicts clicked while Retrain is down through a reload, and stores each exactly once when it is back", async () => {
    await stopRetrain();
    const first = await predict();
    await page.click('button[data-verdict="1"]');
    await page.waitForSelector(".feedback-message:has-text('Waiting to be sent')", { timeout: WAIT_MS });
    for (const verdict of ["1", "2", "3"])
      expect(await page.isDisabled(`button[data-verdict="${verdict}"]`)).toBe(true);
    expect(await page.textContent(".feedback-message")).not.toMatch(/nothing was stored/i);
    const second = await predict();
    await page.click('button[data-verdict="3"]');
    await page.waitForSelector("#outbox:has-text('2 verdicts waiting to be sent')", { timeout: WAIT_MS });
    expect(await page.textContent("#outbox")).toMatch(
      /2 verdicts waiting to be sent; the feedback service (is unreachable|did not answer in time)\./,
    );

    await page.reload();
    await page.waitForSelector("#outbox:has-text('2 verdicts waiting to be sent;')", { timeout: WAIT_MS });

    await startRetrain();
    await page.waitForSelector("#outbox:has-text('2 waiting verdicts have been sent and recorded')", {
      timeout: WAIT_MS,
    });
    expect(rowsFor(first)).toBe(1);
    expect(rowsFor(second)).toBe(1);
    expect(await page.evaluate(() => localStorage.getItem("liver.verdict-outbox.v1"))).toMatch(
      /"queue":\[\]/,
    );
  });

  it("never sends a clinician's queued verdict with another clinician's session", async () => {
    await stopRetrain();
    const alices = await predict();
    await page.click('button[data-verdict="3"]');
    await page.waitForSelector(".feedback-message:has-text('Waiting to be sent')", { timeout: WAIT_MS });

    await signIn("bob");
    await page.reload();
    await startRetrain();
    await page.waitForSelector('#outbox:has-text("1 verdict was given in another clinician\'s session")', {
      timeout: WAIT_MS,
    });
    // Bob's page reaches Retrain (the version badge is live again) and still holds Alice's verdict back.
    await page.waitForSelector('#version-badge[data-state="live"]', { timeout: WAIT_MS });
    await page.reload();
    await page.waitForSelector('#outbox:has-text("1 verdict was given in another clinician\'s session")', {
      timeout: WAIT_MS,
    });
    expect(rowsFor(alices)).toBe(0);

    await signIn("alice");
    await page.reload();
    await page.waitForSelector("#outbox:has-text('1 waiting verdict has been sent and recorded')", {
      timeout: WAIT_MS,
    });
    expect(rowsFor(alices)).toBe(1);
  });

  it("reports a verdict whose answer was lost after the commit as recorded, stored once", async () => {
    const id = await predict();
    proxy.hold();
    await page.click('button[data-verdict="1"]');
    await waitUntil("the verdict committed", () => rowsFor(id) === 1, WAIT_MS);
    // Retrain committed it; its answer never arrives: the connection dies here.
    proxy.cut();
    await page.waitForSelector(".feedback-message:has-text('Already recorded')", { timeout: WAIT_MS });
    expect(await page.textContent(".feedback-message")).toMatch(
      /^Already recorded: the server had this prediction's verdict before; nothing was stored twice\. It is used for training\.$/,
    );
    expect(rowsFor(id)).toBe(1);
  });

  it("says 'Kept for review' for a verdict that contradicts a very confident model, never 'added to training'", async () => {
    await predict(JAUNDICED);
    await page.click('button[data-verdict="2"]');
    await page.waitForSelector(".feedback-message:has-text('Kept for review')", { timeout: WAIT_MS });
    const text = (await page.textContent(".feedback-message")) ?? "";
    expect(text).toMatch(
      /^Marked wrong\. Kept for review: .+; a reviewer decides whether it is used for training\.$/,
    );
    expect(text).not.toMatch(/added to training/);
  });
});
