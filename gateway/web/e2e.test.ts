/**
 * The whole system in a real browser: RetrainService, one PredictService replica and the
 * grpc-web bridge on 127.0.0.1:0 with temp data folders and a small synthetic dataset, and
 * the built page in Debian's headless Chromium driven by playwright-core. It checks what a
 * clinician would: keyboard-only prediction, the verdict buttons, the badge moving to the
 * new version without a reload, a bad value refused before any request, and an outage of
 * the Retrain service shown and recovered from. Screenshots go to test-artifacts/web-e2e/.
 * In the "tls" vitest project every hop runs on the test PKI: the page over HTTPS, the bridge
 * to both services and Predict to Retrain over mTLS; screenshots go to web-e2e-tls/ then.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { AxeBuilder } from "@axe-core/playwright";
import { type Browser, type Page } from "playwright-core";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { watchCspViolations } from "./testing/csp-violations.js";
import { launchHeadlessChromium, skipWithoutChromium } from "./testing/headless-chromium.js";
import { TestGrpcWebBridge } from "../bridge/testing/test-bridge.js";
import {
  testBrowserTrustedCa,
  testServerTls,
  testTlsEnabled,
} from "../../services/shared/testing/test-tls.js";
import type { PredictConfig } from "../../services/predict/predict-config.js";
import { startPredictServer, type PredictServer } from "../../services/predict/predict-server.js";
import {
  DEFAULT_TRUSTED_GATEWAY_ADDRESSES,
  parseTrustedAddresses,
} from "../../services/retrain/feedback-attribution.js";
import type { RetrainConfig } from "../../services/retrain/retrain-config.js";
import { startRetrainServer, type RetrainServerHandle } from "../../services/retrain/retrain-server.js";
import { PERMISSIVE_GATE_POLICY } from "../../services/retrain/testing/retrain-fixtures.js";
import { buildWeb, type WebBuildResult } from "./build.js";

const SKIP = skipWithoutChromium("gateway/web/e2e.test.ts", testTlsEnabled());
const ARTIFACTS = fileURLToPath(
  new URL(`../../test-artifacts/web-e2e${testTlsEnabled() ? "-tls" : ""}/`, import.meta.url),
);
const PREDICT_PATH = "/liver.v1.PredictService/Predict";
const FEEDBACK_PATH = "/liver.v1.RetrainService/SubmitFeedback";

/** A patient typed into the form, in form order; gender is chosen by its first letter. */
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
  ["albumin_globulin_ratio", "0,9"],
];

const WAIT_MS = 60_000;

describe.skipIf(SKIP)("web UI end to end in headless Chromium", () => {
  const silent = pino({ level: process.env["TEST_LOG_LEVEL"] ?? "silent" });
  const cleanups: (() => Promise<unknown>)[] = [];
  let retrainConfig: RetrainConfig;
  let retrain: RetrainServerHandle;
  let predict: PredictServer;
  let predictConfig: PredictConfig;
  let web: WebBuildResult;
  let baseUrl: string;
  let browser: Browser;
  let page: Page;
  /** Content-Security-Policy violations the page reported; every test ends with none. */
  let cspViolations: string[] = [];
  let predictRequests = 0;
  /** The traceparent header of each Predict and SubmitFeedback the page sent ("" when none). */
  const traceparents = new Map<string, string[]>([
    [PREDICT_PATH, []],
    [FEEDBACK_PATH, []],
  ]);
  let shot = 0;

  const screenshot = async (name: string): Promise<void> => {
    shot++;
    await page.screenshot({
      path: path.join(ARTIFACTS, `${String(shot).padStart(2, "0")}-${name}.png`),
      fullPage: true,
    });
  };

  /**
   * axe-core on the page as it is now, at 1280 and at 375 px wide: no serious or critical
   * violation. The viewport is restored afterwards.
   */
  const expectAccessible = async (state: string): Promise<void> => {
    const original = page.viewportSize();
    const found: string[] = [];
    for (const width of [1280, 375]) {
      await page.setViewportSize({ width, height: 900 });
      const results = await new AxeBuilder({ page }).analyze();
      for (const violation of results.violations) {
        if (violation.impact !== "serious" && violation.impact !== "critical") continue;
        const where = violation.nodes.map((node) => node.target.join(" ")).join(", ");
        found.push(`${state} at ${width} px: ${violation.id} (${violation.impact}) on ${where}`);
      }
    }
    if (original !== null) await page.setViewportSize(original);
    expect(found).toEqual([]);
  };

  const tempDir = async (prefix: string): Promise<string> => {
    const dir = await mkdtemp(path.join(tmpdir(), prefix));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  };

  /** Presses Tab until `selector` has focus (at most 40 times): keyboard-only navigation. */
  const tabTo = async (selector: string): Promise<void> => {
    for (let i = 0; i < 40; i++) {
      if (await page.evaluate((s) => document.activeElement?.matches(s) === true, selector)) return;
      await page.keyboard.press("Tab");
    }
    throw new Error(`Tab never reached ${selector}`);
  };

  /** Fills the whole form from the keyboard, starting at the skip link. */
  const typePatient = async (values: readonly [string, string][]): Promise<void> => {
    await page.keyboard.press("Escape");
    await page.evaluate(() => {
      if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
    });
    await tabTo(".skip-link");
    await page.keyboard.press("Enter");
    for (const [name, value] of values) {
      await tabTo(`#field-${name}`);
      if (name !== "gender") await page.keyboard.press("ControlOrMeta+a");
      await page.keyboard.type(value);
    }
  };

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    const dataPath = await tempDir("web-e2e-data-");
    const modelPath = await tempDir("web-e2e-models-");
    const signingKey = randomBytes(32);
    web = await buildWeb({ outDir: path.join(await tempDir("web-e2e-dist-"), "dist") });

    retrainConfig = {
      host: "127.0.0.1",
      port: 0,
      metricsPort: 0,
      dataPath,
      modelPath,
      trainingCsv: undefined,
      adminToken: undefined,
      signingKey,
      heartbeatIntervalMs: 1_000,
      debounceMs: 0,
      minBatch: 1,
      // Any candidate passes the gate: the test is about the page following a promotion.
      gatePolicy: PERMISSIVE_GATE_POLICY,
      siteRecalibration: true,
      feedbackScreening: true,
      trainingRowsPerSource: 100,
      shutdownGraceMs: 200,
      trustedGateways: parseTrustedAddresses(DEFAULT_TRUSTED_GATEWAY_ADDRESSES),
      feedbackPerSourcePerHour: 0,
      tls: testServerTls(),
    };
    retrain = await startRetrainServer(retrainConfig, silent, { syntheticRows: 400, defaultMetrics: false });
    retrainConfig = { ...retrainConfig, port: retrain.port };
    cleanups.push(() => retrain.close());

    const retrainAddress = `127.0.0.1:${retrain.port}`;
    predictConfig = {
      host: "127.0.0.1",
      port: 0,
      metricsPort: 0,
      retrainAddr: retrainAddress,
      signingKey,
      modelCachePath: await tempDir("web-e2e-cache-"),
      bundledModelPath: undefined,
      validateWithTfjs: false,
      explainPredictions: true,
      heartbeatTimeoutMs: 5_000,
      reconnectInitialMs: 50,
      reconnectMaxMs: 500,
      startupFallbackMs: 20_000,
      artifactFetchTimeoutMs: 10_000,
      shutdownGraceMs: 200,
      tls: testServerTls(),
    };
    predict = await startPredictServer(predictConfig, silent);
    predictConfig = { ...predictConfig, port: predict.port };
    cleanups.push(() => predict.close(200));
    // The first version trains in a worker thread; allow for a busy CI machine.
    await predict.holder.waitFor(() => true, 2 * WAIT_MS);

    const bridge = new TestGrpcWebBridge({
      predictAddresses: [`127.0.0.1:${predict.port}`],
      retrainAddress,
      webRoot: web.outDir,
      logger: silent,
    });
    const { port } = await bridge.listen(0, "127.0.0.1");
    cleanups.push(() => bridge.close());
    baseUrl = `${TestGrpcWebBridge.url(port)}/`;

    browser = await launchHeadlessChromium({ trustedCa: testBrowserTrustedCa() });
    cleanups.push(() => browser.close());
    // A context of its own: @axe-core/playwright opens a helper page in the page's context.
    // In the "tls" project the page comes over HTTPS, checked against the run's CA.
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    page = await context.newPage();
    cspViolations = await watchCspViolations(page);
    page.on("request", (request) => {
      const path = new URL(request.url()).pathname;
      if (path === PREDICT_PATH) predictRequests++;
      traceparents.get(path)?.push(request.headers()["traceparent"] ?? "");
    });
  });

  afterEach(() => {
    expect(cspViolations.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  it("renders the form from the server's schema, with the badge, note and synthetic-data banner", async () => {
    await page.goto(baseUrl);
    await page.waitForSelector("#field-albumin_globulin_ratio", { timeout: WAIT_MS });
    const firstRenderMs = await page.evaluate(
      () => performance.getEntriesByName("liver:form-rendered")[0]?.startTime ?? Number.NaN,
    );
    // The page marks its first render; how long it takes is measured by `npm run bench -- --only
    // web` (a test asserts behaviour, never a duration).
    expect(Number.isFinite(firstRenderMs)).toBe(true);

    await page.waitForSelector('#version-badge[data-state="live"][data-version="v1"]', { timeout: WAIT_MS });
    expect(await page.isVisible("#synthetic-banner")).toBe(true);
    expect(await page.textContent(".note")).toContain("Decision support, not a diagnosis");
    expect(await page.textContent('label[for="field-total_bilirubin"]')).toBe("Total bilirubin (mg/dL)");
    expect(await page.textContent("#field-age-hint")).toBe("Valid range: 0 to 120 years");
    // Every control has a label.
    const unlabelled = await page.evaluate(() =>
      Array.from(document.querySelectorAll("input, select, button"))
        .filter((control) => {
          const own = control.getAttribute("aria-label") ?? "";
          const byFor = control.id === "" ? null : document.querySelector(`label[for="${control.id}"]`);
          return own === "" && byFor === null && control.textContent.trim() === "";
        })
        .map((control) => control.outerHTML),
    );
    expect(unlabelled).toEqual([]);
    await page.waitForSelector('#history circle[data-version="v1"]', { timeout: WAIT_MS });
    // The serving version's reliability diagram beside the history, with its error in words.
    await page.waitForSelector("#calibration circle.reliability-point", { timeout: WAIT_MS });
    expect(await page.textContent("#calibration figcaption")).toMatch(
      /^v1: expected calibration error 0\.\d{3}; over \d+ holdout patients/,
    );
    // The replica's input-drift check, in words (no inputs scored yet on a fresh system).
    await page.waitForSelector("#input-drift li:has-text('Too few inputs to judge drift yet')", {
      timeout: WAIT_MS,
    });
    await screenshot("loaded");
    await expectAccessible("empty page");
    // The CSP watch itself: an inline style attribute is refused and reported.
    await page.evaluate(() => {
      const probe = document.createElement("div");
      probe.setAttribute("style", "color: red");
      document.body.append(probe);
      probe.remove();
    });
    // Both reports arrive: Chromium's console refusal and the page's securitypolicyviolation event.
    await expect
      .poll(() => cspViolations.filter((v) => v.includes("style-src")).length, { timeout: WAIT_MS })
      .toBe(2);
    cspViolations.splice(0);
  });

  it("shows the field's error for a bad value and sends nothing", async () => {
    const before = predictRequests;
    await typePatient(PATIENT.map(([name, value]) => [name, name === "age" ? "130" : value]));
    await page.keyboard.press("Enter");
    await page.waitForSelector("#field-age-error:not([hidden])");
    expect(await page.textContent("#field-age-error")).toBe(
      "Age 130 years is outside the valid range of 0 to 120 years.",
    );
    expect(await page.getAttribute("#field-age", "aria-invalid")).toBe("true");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("field-age");
    expect(await page.textContent(".form-summary")).toBe("1 field needs attention: Age. Nothing was sent.");
    await screenshot("invalid-age");
    expect(predictRequests).toBe(before);
    await expectAccessible("field error");
  });

  it("predicts from the keyboard, takes 'Prediction is wrong' once, and the badge moves to v2 without a reload", async () => {
    await page.evaluate(() => {
      (window as unknown as { sameDocument: boolean }).sameDocument = true;
    });
    const before = predictRequests;
    await typePatient(PATIENT);
    await page.keyboard.press("Enter");
    await page.waitForSelector(".probability-value", { timeout: WAIT_MS });
    expect(predictRequests).toBe(before + 1);
    expect(await page.isVisible("#field-age-error")).toBe(false);
    expect(await page.textContent(".probability-value")).toMatch(/^(?:[<>] )?\d{1,3}\.\d %$/);
    // The reading follows the band: within 10 points of the threshold it says "Borderline".
    const probability = Number.parseFloat(
      (await page.textContent(".probability-value"))?.replace(/^[<>] /, "") ?? "",
    );
    const band = await page.getAttribute(".diagnosis", "data-band");
    expect(band).toBe(
      Math.abs(probability - 50) <= 10
        ? "borderline"
        : probability >= 50
          ? "liver-disease"
          : "no-liver-disease",
    );
    expect(await page.textContent(".diagnosis")).toMatch(
      band === "borderline" ? /^Borderline: / : /^(Liver disease likely|No liver disease indicated)/,
    );
    expect(await page.textContent(".result-version")).toBe("v1");
    // The explanation: the five largest contributions, each a sentence with its direction.
    const reasons = await page.$$eval(".explanation-item .explanation-text", (items) =>
      items.map((item) => item.textContent),
    );
    expect(reasons).toHaveLength(5);
    for (const reason of reasons) {
      expect(reason).toMatch(/^[▲▼] .+ (raised|lowered|hardly changed) the estimate$/);
    }
    expect(reasons.join("\n")).toMatch(/(Total bilirubin 3\.1 mg\/dL|Age 52 years|Albumin 2\.9 g\/dL)/);
    // Compared with these labs brought within normal limits at average age and sex, whose
    // estimate is given; a lab within limits (total proteins 6.2) is part of that estimate, named
    // as such, never as having no effect.
    expect(await page.textContent(".explanation figcaption")).toMatch(
      /compared with a patient of average age and sex whose lab values are these brought within normal limits \(estimate \d+\.\d %\):$/,
    );
    const inReference = await page.textContent(".explanation-in-reference");
    expect(inReference).toMatch(/^Part of the reference estimate, not shown as bars: /);
    expect(inReference).toContain("Total proteins 6.2 g/dL (within normal limits)");
    expect((await page.textContent(".explanation-unmoved")) ?? "").not.toContain("within normal limits");
    expect(
      await page.$$eval(".explanation-track", (tracks) =>
        tracks.every((t) => t.getAttribute("aria-hidden") === "true"),
      ),
    ).toBe(true);
    await screenshot("prediction");
    await expectAccessible("answered, explanation shown");

    // The badge and the Retraining panel follow the same stream event: whenever the badge's
    // version changes, the panel's headline already names the same version.
    await page.evaluate(() => {
      const badge = document.getElementById("version-badge");
      const seen: string[] = [];
      (window as unknown as { panelAtBadgeChange: string[] }).panelAtBadgeChange = seen;
      if (badge === null) return;
      new MutationObserver(() => {
        const headline = document.querySelector("#retrain-status .status-headline")?.textContent ?? "";
        seen.push(`${badge.dataset["version"] ?? ""}: ${headline}`);
      }).observe(badge, { attributes: true, attributeFilter: ["data-version"] });
    });

    await tabTo('button[data-verdict="2"]');
    expect(await page.textContent("button:focus")).toBe("Prediction is wrong");
    await page.keyboard.press("Enter");
    await page.waitForSelector(".feedback-message:has-text('added to training')", { timeout: WAIT_MS });
    expect(await page.textContent(".feedback-message")).toBe(
      "Marked wrong: added to training; retraining scheduled.",
    );
    for (const verdict of ["1", "2", "3"]) {
      expect(await page.isDisabled(`button[data-verdict="${verdict}"]`)).toBe(true);
    }
    await screenshot("feedback-sent");
    await expectAccessible("feedback given");
    // Each clinician call starts its own sampled trace (trace-context.ts).
    const sampledTrace = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;
    expect(traceparents.get(PREDICT_PATH)?.at(-1)).toMatch(sampledTrace);
    expect(traceparents.get(FEEDBACK_PATH)?.at(-1)).toMatch(sampledTrace);

    await page.waitForSelector('#version-badge[data-version="v2"]', { timeout: WAIT_MS });
    const panelAtBadgeChange = await page.evaluate(
      () => (window as unknown as { panelAtBadgeChange: string[] }).panelAtBadgeChange,
    );
    expect(panelAtBadgeChange.length).toBeGreaterThan(0);
    for (const entry of panelAtBadgeChange) expect(entry).toMatch(/^(v\d+): .*model \1 serving/);
    expect(await page.textContent("#version-badge")).toContain("(updated from v1)");
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(
      true,
    );
    await page.waitForSelector('#history circle[data-version="v2"].serving', { timeout: WAIT_MS });
    await page.waitForSelector("#retrain-status .status-headline:has-text('Idle')", { timeout: WAIT_MS });
    expect(await page.textContent("#retrain-status")).toContain("Last run: v2 promoted");
    expect(await page.textContent("#retrain-status")).toContain(
      "Clinicians marked 1 of 1 answer of v1 wrong (accuracy 0 %, 95 % interval 0 to 79 %).",
    );
    await screenshot("promoted");
  });

  it("says 'stored; not used for training' for Don't know", async () => {
    await page.focus("#predict-button");
    await page.keyboard.press("Enter");
    await page.waitForSelector(".result-version:has-text('v2')", { timeout: WAIT_MS });
    await tabTo('button[data-verdict="3"]');
    await page.keyboard.press("Enter");
    await page.waitForSelector(".feedback-message:has-text('stored')", { timeout: WAIT_MS });
    expect(await page.textContent(".feedback-message")).toBe(
      "Marked don't know: stored; not used for training.",
    );
  });

  it("marks the shown result as belonging to earlier values when the form is edited or a check fails", async () => {
    expect(await page.isVisible(".stale-notice")).toBe(false);
    const predictionId = (await page.textContent("#result .muted:has-text('Prediction ')")) ?? "";
    await page.fill("#field-age", "53");
    await page.waitForSelector("#result-heading ~ .stale-notice:not([hidden])");
    expect(await page.textContent("#result-heading ~ .stale-notice")).toBe(
      "Out of date: this result is for the values entered before your edits (changed: Age). Press Predict for an answer to the current values.",
    );
    // The verdict buttons still refer to that prediction, and say so.
    const verdictNotice = (await page.textContent(".stale-verdict")) ?? "";
    expect(verdictNotice).toMatch(
      /^Your verdict refers to the prediction above \(.+\), made for the earlier values/,
    );
    expect(predictionId).toContain(verdictNotice.replace(/^.*\((.+)\).*$/, "$1"));
    expect(await page.getAttribute("#result", "data-stale")).toBe("");
    await expectAccessible("result out of date");
    // Back to the values the answer was for: current again.
    await page.fill("#field-age", "52");
    await page.waitForSelector(".stale-notice", { state: "hidden" });
    // A failed check leaves the old answer on screen, marked.
    const before = predictRequests;
    await page.fill("#field-age", "130");
    // Enter submits from the field (a click could land beside the button once the field's
    // error, shown on blur, moves it).
    await page.press("#field-age", "Enter");
    await page.waitForSelector("#result-heading ~ .stale-notice:has-text('Not updated')");
    expect(predictRequests).toBe(before);
    await screenshot("stale-result");
    await page.fill("#field-age", "52");
    await page.waitForSelector(".stale-notice", { state: "hidden" });
  });

  it("warns about values that cannot occur together, before and with the answer", async () => {
    const requestsBefore = predictRequests;
    await page.fill("#field-direct_bilirubin", "5");
    await page.fill("#field-total_bilirubin", "0.5");
    await page.press("#field-total_bilirubin", "Tab");
    await page.waitForSelector("#form-warnings:not([hidden])");
    expect(predictRequests).toBe(requestsBefore);
    expect(await page.textContent("#form-warnings")).toContain(
      "Direct bilirubin (5 mg/dL) is higher than total bilirubin (0.5 mg/dL)",
    );
    await page.press("#field-total_bilirubin", "Enter");
    await page.waitForSelector("#answer-warnings:not([hidden])", { timeout: WAIT_MS });
    expect(await page.textContent("#answer-warnings")).toContain(
      "but direct bilirubin is part of total bilirubin. Check both values.",
    );
    expect(await page.getAttribute("#answer-warnings li", "data-fields")).toBe(
      "direct_bilirubin total_bilirubin",
    );
    await screenshot("plausibility-warning");
    await expectAccessible("plausibility warning");
    await page.fill("#field-direct_bilirubin", "1.4");
    await page.fill("#field-total_bilirubin", "3.1");
    await page.press("#field-total_bilirubin", "Tab");
    await page.waitForSelector("#form-warnings", { state: "hidden" });
  });

  it("at 375 px: chart text stays readable and no table is clipped", async () => {
    const original = page.viewportSize();
    await page.setViewportSize({ width: 375, height: 800 });
    // The history chart redraws itself at the new width (so its text keeps its size).
    await page.waitForFunction(() => {
      const svg = document.querySelector<SVGSVGElement>("#history svg");
      const box = document.getElementById("history");
      return svg !== null && box !== null && svg.viewBox.baseVal.width <= Math.max(300, box.clientWidth);
    });
    await page.$$eval("#history details, #calibration details", (all) => {
      for (const details of all) (details as HTMLDetailsElement).open = true;
    });
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll("#history details, #calibration details")).every(
        (d) => (d as HTMLDetailsElement).open,
      ),
    );
    const overflow = await page.evaluate(() => {
      const clipped: string[] = [];
      for (const table of Array.from(document.querySelectorAll("table"))) {
        for (let e: Element | null = table; e !== null && e !== document.body; e = e.parentElement) {
          if (e.scrollWidth > e.clientWidth + 1)
            clipped.push(`${e.tagName}.${e.className}: ${e.scrollWidth} > ${e.clientWidth}`);
        }
      }
      const root = document.documentElement;
      if (root.scrollWidth > root.clientWidth + 1)
        clipped.push(`page: ${root.scrollWidth} > ${root.clientWidth}`);
      return clipped;
    });
    expect(overflow).toEqual([]);
    // Rendered text height of every chart label, in CSS pixels: at least 10 px (11 to 12 px
    // fonts); a fixed 640-unit drawing squeezed to a phone would render it near 6 px.
    const small = await page.$$eval("#history svg text, #calibration svg text", (texts) =>
      texts
        .map((t) => ({ text: t.textContent, height: t.getBoundingClientRect().height }))
        .filter((t) => t.height < 10),
    );
    expect(small).toEqual([]);
    expect(await page.$$eval("#history svg text", (texts) => texts.length)).toBeGreaterThan(3);
    await screenshot("narrow-375");
    if (original !== null) await page.setViewportSize(original);
  });

  it("shows a Retrain outage, keeps predicting, keeps the verdict waiting, and recovers by itself", async () => {
    await retrain.close();
    await page.waitForSelector('#service-status [data-service="retrain"]', { timeout: WAIT_MS });
    expect(await page.textContent("#service-status")).toContain(
      "The feedback and retraining service is unavailable",
    );
    await page.waitForSelector('#version-badge[data-state="reconnecting"]', { timeout: WAIT_MS });

    // Predict still answers from the model in memory; the verdict waits in the page's outbox.
    await page.focus("#predict-button");
    await page.keyboard.press("Enter");
    await page.waitForSelector(".feedback:not([hidden]) button[data-verdict='1']:not([disabled])", {
      timeout: WAIT_MS,
    });
    await tabTo('button[data-verdict="1"]');
    await page.keyboard.press("Enter");
    await page.waitForSelector(".feedback-message:has-text('Waiting to be sent')", { timeout: WAIT_MS });
    await page.waitForSelector("#outbox:has-text('1 verdict waiting to be sent')", { timeout: WAIT_MS });
    expect(await page.isDisabled('button[data-verdict="1"]')).toBe(true);
    await screenshot("retrain-down");
    await expectAccessible("Retrain outage");

    retrain = await startRetrainServer(retrainConfig, silent, { syntheticRows: 400, defaultMetrics: false });
    await page.waitForSelector("#service-status", { state: "hidden", timeout: WAIT_MS });
    // Live again; the waiting verdict may already have promoted v3 by now.
    await page.waitForSelector('#version-badge[data-state="live"]', { timeout: WAIT_MS });

    // Sent by itself once Retrain is back.
    await page.waitForSelector(".feedback-message:has-text('added to training')", { timeout: WAIT_MS });
    await page.waitForSelector("#outbox:has-text('1 waiting verdict has been sent and recorded')", {
      timeout: WAIT_MS,
    });
    expect(await page.textContent(".feedback-message")).toMatch(/^Marked correct: added to training/);
    await screenshot("retrain-recovered");
    // The reconnected stream delivers the next promotion too.
    await page.waitForSelector('#version-badge[data-version="v3"]', { timeout: WAIT_MS });
    await page.waitForSelector('#history circle[data-version="v3"].serving', { timeout: WAIT_MS });
  });

  it("shows a Predict outage on a fresh page, builds the form once Predict is back, without a reload", async () => {
    await predict.close(200);
    await page.focus("#predict-button");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#result .error:has-text('No prediction')", { timeout: WAIT_MS });
    expect(await page.textContent("#result .error")).toMatch(
      /^No prediction: the prediction service is unavailable/,
    );
    await page.waitForSelector('#service-status [data-service="predict"]', { timeout: WAIT_MS });
    await expectAccessible("Predict error");

    await page.reload();
    await page.waitForSelector(
      "#fields :text('The form cannot be shown until the prediction service answers')",
      { timeout: WAIT_MS },
    );
    expect(await page.isDisabled("#predict-button")).toBe(true);
    expect(await page.textContent("#service-status")).toContain("The prediction service is unavailable");
    await screenshot("predict-down");
    await expectAccessible("Predict outage");
    await page.evaluate(() => {
      (window as unknown as { sameDocument: boolean }).sameDocument = true;
    });

    predict = await startPredictServer(predictConfig, silent);
    await page.waitForSelector("#field-age", { timeout: WAIT_MS });
    await page.waitForSelector("#service-status", { state: "hidden", timeout: WAIT_MS });
    expect(await page.isDisabled("#predict-button")).toBe(false);
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(
      true,
    );
    await screenshot("predict-recovered");
  });
});
