/**
 * The page over HTTPS with TLS on every hop, in headless Chromium: the bridge serves the page
 * and grpc-web over HTTPS and calls Predict and Retrain with its own client certificate; both
 * services require client certificates (mTLS) and Predict fetches its model from Retrain the
 * same way. The browser gets a prediction and a live version stream. (The browser is told to
 * accept the throwaway CA's certificate; certificate checking itself is tested in
 * services/shared/tls and gateway/bridge.)
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, type Page } from "playwright-core";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchHeadlessChromium, skipWithoutChromium } from "./testing/headless-chromium.js";
import { startPredictServer } from "../../services/predict/predict-server.js";
import { testConfig } from "../../services/retrain/testing/retrain-fixtures.js";
import { startRetrainServer } from "../../services/retrain/retrain-server.js";
import { type PkiFiles, writeThrowawayPki } from "../../services/shared/tls/throwaway-ca.js";
import { PLAINTEXT, type TlsSettings } from "../../services/shared/tls/tls-settings.js";
import { BridgeTls } from "../bridge/bridge-tls.js";
import { GrpcWebBridge } from "../bridge/grpc-web-bridge.js";
import { buildWeb } from "./build.js";

const SKIP = skipWithoutChromium("gateway/web/e2e-tls.test.ts", true);
const WAIT_MS = 60_000;

const PATIENT: readonly [string, string][] = [
  ["age", "52"],
  ["gender", "m"],
  ["total_bilirubin", "3.1"],
  ["direct_bilirubin", "1.4"],
  ["alkaline_phosphatase", "310"],
  ["alanine_aminotransferase", "88"],
  ["aspartate_aminotransferase", "120"],
  ["total_proteins", "6.2"],
  ["albumin", "2.9"],
  ["albumin_globulin_ratio", "0.9"],
];

describe.skipIf(SKIP)("the page over HTTPS, every hop on TLS, in headless Chromium", () => {
  const silent = pino({ level: "silent" });
  const cleanups: (() => Promise<unknown>)[] = [];
  let pki: PkiFiles;
  let baseUrl: string;
  let browser: Browser;
  let page: Page;

  const tempDir = async (prefix: string): Promise<string> => {
    const dir = await mkdtemp(path.join(tmpdir(), prefix));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  };

  const tlsOf = (name: string, mutual: boolean): TlsSettings => {
    const files = pki.identities.get(name);
    if (files === undefined) throw new Error(`no certificate for ${name}`);
    return { ...PLAINTEXT, ...files, caFile: pki.caFile, clientCaFile: mutual ? pki.caFile : undefined };
  };

  beforeAll(async () => {
    pki = await writeThrowawayPki(await tempDir("e2e-tls-pki-"), ["retrain", "predict", "gateway"]);
    const signingKey = randomBytes(32);
    const web = await buildWeb({ outDir: path.join(await tempDir("e2e-tls-dist-"), "dist") });
    const retrain = await startRetrainServer(
      {
        ...testConfig(await tempDir("e2e-tls-root-"), signingKey, {
          heartbeatIntervalMs: 1_000,
          shutdownGraceMs: 200,
          feedbackScreening: true,
          tls: tlsOf("retrain", true),
        }),
        dataPath: await tempDir("e2e-tls-data-"),
        modelPath: await tempDir("e2e-tls-models-"),
      },
      silent,
      { syntheticRows: 400, defaultMetrics: false },
    );
    cleanups.push(() => retrain.close());
    const predict = await startPredictServer(
      {
        host: "127.0.0.1",
        port: 0,
        metricsPort: 0,
        retrainAddr: `localhost:${retrain.port}`,
        signingKey,
        modelCachePath: await tempDir("e2e-tls-cache-"),
        bundledModelPath: undefined,
        validateWithTfjs: false,
        explainPredictions: true,
        heartbeatTimeoutMs: 5_000,
        reconnectInitialMs: 50,
        reconnectMaxMs: 500,
        startupFallbackMs: 20_000,
        artifactFetchTimeoutMs: 10_000,
        shutdownGraceMs: 200,
        tls: tlsOf("predict", true),
      },
      silent,
    );
    cleanups.push(() => predict.close(200));
    await predict.holder.waitFor(() => true, 2 * WAIT_MS);

    const bridgeTls = new BridgeTls(tlsOf("gateway", false), silent);
    const bridge = new GrpcWebBridge({
      predictAddresses: [`localhost:${predict.port}`],
      retrainAddress: `localhost:${retrain.port}`,
      webRoot: web.outDir,
      logger: silent,
      tls: bridgeTls,
    });
    const { port } = await bridge.listen(0, "127.0.0.1");
    cleanups.push(async () => {
      await bridge.close();
      bridgeTls.close();
    });
    baseUrl = `https://localhost:${port}/`;

    // Chromium trusts the throwaway CA, as a user's browser trusts a private CA.
    browser = await launchHeadlessChromium({ trustedCa: await readFile(pki.caFile) });
    cleanups.push(() => browser.close());
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  });

  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  it("loads over HTTPS, follows the live version stream and gets a prediction", async () => {
    const response = await page.goto(baseUrl);
    expect(response?.url()).toMatch(/^https:/);
    expect(response?.status()).toBe(200);
    await page.waitForSelector("#field-albumin_globulin_ratio", { timeout: WAIT_MS });
    await page.waitForSelector('#version-badge[data-state="live"][data-version="v1"]', {
      timeout: WAIT_MS,
    });
    for (const [name, value] of PATIENT) {
      await page.focus(`#field-${name}`);
      if (name !== "gender") await page.keyboard.press("ControlOrMeta+a");
      await page.keyboard.type(value);
    }
    await page.focus("#predict-button");
    await page.keyboard.press("Enter");
    await page.waitForSelector(".probability-value", { timeout: WAIT_MS });
    await page.waitForSelector(".result-version:has-text('v1')", { timeout: WAIT_MS });
  });
});
