/**
 * Signing in, end to end in a real browser: RetrainService, one PredictService replica and
 * the grpc-web bridge, all trusting the development issuer of `npm start -- --auth dev`
 * (a real ES256 key and JWKS file made in a temp data folder). Signed out, the page shows
 * nobody and Predict is refused; with the issuer's token in the BearerToken cookie (what
 * Envoy's oauth2 filter sets after a sign-in) the page shows the principal, predicts and
 * sends feedback attributed to it; /signout ends the session.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, type BrowserContext, type Page } from "playwright-core";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchHeadlessChromium, skipWithoutChromium } from "./testing/headless-chromium.js";
import { TestGrpcWebBridge } from "../bridge/testing/test-bridge.js";
import {
  testBrowserTrustedCa,
  testServerTls,
  testTlsEnabled,
} from "../../services/shared/testing/test-tls.js";
import { startPredictServer } from "../../services/predict/predict-server.js";
import { testConfig } from "../../services/retrain/testing/retrain-fixtures.js";
import { startRetrainServer } from "../../services/retrain/retrain-server.js";
import { readAuthConfig, type AuthConfig } from "../../services/shared/auth/auth-config.js";
import { CallerAuthenticator } from "../../services/shared/auth/caller-authenticator.js";
import { DEV_ISSUER, DevIssuer } from "../../services/shared/auth/dev-issuer.js";
import { buildWeb } from "./build.js";

const SKIP = skipWithoutChromium("gateway/web/e2e-auth.test.ts", testTlsEnabled());
const WAIT_MS = 60_000;

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

describe.skipIf(SKIP)("signing in, in headless Chromium", () => {
  const silent = pino({ level: process.env["TEST_LOG_LEVEL"] ?? "silent" });
  const cleanups: (() => Promise<unknown>)[] = [];
  let issuer: DevIssuer;
  let baseUrl: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  const tempDir = async (prefix: string): Promise<string> => {
    const dir = await mkdtemp(path.join(tmpdir(), prefix));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  };

  const fillPatient = async (): Promise<void> => {
    for (const [name, value] of PATIENT) await page.fill(`#field-${name}`, value);
    await page.selectOption("#field-gender", "GENDER_MALE");
  };

  beforeAll(async () => {
    const dataPath = await tempDir("web-auth-data-");
    issuer = await DevIssuer.loadOrCreate(dataPath);
    const auth = readAuthConfig(issuer.serviceEnv()) as AuthConfig;
    const signingKey = randomBytes(32);
    const web = await buildWeb({ outDir: path.join(await tempDir("web-auth-dist-"), "dist") });
    const retrain = await startRetrainServer(
      {
        ...testConfig(dataPath, signingKey, {
          heartbeatIntervalMs: 1_000,
          shutdownGraceMs: 200,
          feedbackScreening: true,
          auth,
        }),
        dataPath,
        modelPath: await tempDir("web-auth-models-"),
      },
      silent,
      { syntheticRows: 400, defaultMetrics: false },
    );
    cleanups.push(() => retrain.close());
    const retrainAddress = `127.0.0.1:${retrain.port}`;
    const predict = await startPredictServer(
      {
        host: "127.0.0.1",
        port: 0,
        metricsPort: 0,
        retrainAddr: retrainAddress,
        signingKey,
        modelCachePath: await tempDir("web-auth-cache-"),
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
    cleanups.push(() => predict.close(200));
    await predict.holder.waitFor(() => true, 2 * WAIT_MS);
    const bridge = new TestGrpcWebBridge({
      predictAddresses: [`127.0.0.1:${predict.port}`],
      retrainAddress,
      webRoot: web.outDir,
      logger: silent,
      auth: new CallerAuthenticator(auth),
    });
    const { port } = await bridge.listen(0, "127.0.0.1");
    cleanups.push(() => bridge.close());
    baseUrl = `${TestGrpcWebBridge.url(port)}/`;
    browser = await launchHeadlessChromium({ trustedCa: testBrowserTrustedCa() });
    cleanups.push(() => browser.close());
    // In the "tls" project the page comes over HTTPS, checked against the run's CA.
    context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    page = await context.newPage();
  });

  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  it("signed out: shows nobody, and Predict is refused as unauthenticated", async () => {
    await page.goto(baseUrl);
    await page.waitForSelector("#field-age", { timeout: WAIT_MS });
    expect(await page.isHidden("#signed-in")).toBe(true);
    await fillPatient();
    await page.click("#predict-button");
    await page.waitForSelector("#result:has-text('UNAUTHENTICATED')", { timeout: WAIT_MS });
    expect(await page.textContent("#result")).toContain("Predict requires authentication");
    expect(await page.isVisible(".probability-value")).toBe(false);
  });

  it("signed in with the issuer's token cookie: shows the principal, predicts and sends feedback as it", async () => {
    const token = await issuer.mint("alice", ["liver-clinician"], 600);
    await context.addCookies([
      { name: "BearerToken", value: token, url: baseUrl, httpOnly: true, sameSite: "Strict" },
    ]);
    await page.goto(baseUrl);
    await page.waitForSelector("#signed-in:not([hidden])", { timeout: WAIT_MS });
    expect(await page.textContent("#signed-in strong")).toBe("alice");
    expect(await page.getAttribute("#signed-in .principal", "data-principal")).toBe(`${DEV_ISSUER}|alice`);
    // The cookie is HTTP-only: the page's scripts never see the token.
    expect(await page.evaluate(() => document.cookie)).not.toContain("BearerToken");
    await page.waitForSelector("#field-age", { timeout: WAIT_MS });
    await fillPatient();
    await page.click("#predict-button");
    await page.waitForSelector(".probability-value", { timeout: WAIT_MS });
    await page.click('button[data-verdict="1"]');
    await page.waitForSelector(".feedback-message:has-text('added to training')", { timeout: WAIT_MS });
    expect(await page.textContent("#signed-in")).toContain(`${DEV_ISSUER}|alice`);
  });

  it("signs out through the link: the cookie is gone and the page shows nobody", async () => {
    await page.click("#signed-in a");
    await page.waitForSelector("#field-age", { timeout: WAIT_MS });
    await page.waitForFunction(() => document.querySelector("#signed-in")?.hasAttribute("hidden") === true);
    expect((await context.cookies(baseUrl)).map((c) => c.name)).not.toContain("BearerToken");
  });
});
