/**
 * Bench section: the verdict outbox through a Retrain outage, in Debian's headless Chromium
 * against the real system (Retrain as a child process, one Predict replica, the grpc-web
 * bridge). Each scenario: 5 predictions while Retrain is away, a verdict clicked on each, one
 * page reload during the outage, Retrain back after 30 s (5 s with --quick); then how long
 * after Retrain serves again the page has all 5 stored, and how many rows each prediction
 * got. "kill": SIGKILL, then a restart on the same port and data folder. "freeze": SIGSTOP,
 * then SIGCONT (a frozen process: the page must say what waits instead of "Sending…").
 * The browser tests (gateway/web/e2e-outbox.test.ts) check the behaviour with short outages;
 * these are the full-length figures.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import type { Browser, Page } from "playwright-core";
import { pino } from "pino";
import { TestGrpcWebBridge } from "../../gateway/bridge/testing/test-bridge.js";
import { buildWeb } from "../../gateway/web/build.js";
import { CHROMIUM, launchHeadlessChromium } from "../../gateway/web/testing/headless-chromium.js";
import { startRetrainProcess, type ChildService } from "../../services/predict/testing/child-service.js";
import { ReplicaFixture } from "../../services/predict/testing/replica-fixture.js";
import { STORE_FILE_NAME } from "../../services/retrain/retrain-config.js";
import { waitUntil } from "../../services/predict/testing/wait-until.js";
import type { BenchContext, BenchSection } from "./bench-harness.js";

export const order = 46;

/** The target: all stored within 10 s of Retrain serving again. */
const STORED_WITHIN_MS = 10_000;
const VERDICTS = 5;

const PATIENT: readonly [string, string][] = [
  ["total_bilirubin", "3.1"],
  ["direct_bilirubin", "1.4"],
  ["alkaline_phosphatase", "310"],
  ["alanine_aminotransferase", "88"],
  ["aspartate_aminotransferase", "120"],
  ["total_proteins", "6.2"],
  ["albumin", "2.9"],
  ["albumin_globulin_ratio", "0.9"],
];

interface Outcome {
  readonly storedAfterBackMs: number;
  readonly rows: readonly number[];
  readonly saidWaiting: string;
  /** Longest "Sending…" shown after a click before the page said the verdict waits. */
  readonly longestSendingMs: number;
}

export const section: BenchSection = {
  title: "Verdict outbox: 5 verdicts through a 30 s Retrain outage with a reload (headless Chromium)",
  async run(context: BenchContext): Promise<void> {
    if (!existsSync(CHROMIUM)) {
      context.note(`skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);
      return;
    }
    const outageMs = context.quick ? 5_000 : 30_000;
    const silent = pino({ level: "silent" });
    const root = await mkdtemp(path.join(tmpdir(), "outbox-bench-"));
    const replicas = new ReplicaFixture(silent);
    const cleanups: (() => Promise<unknown>)[] = [() => rm(root, { recursive: true, force: true })];
    const env = (port: number): Record<string, string> => ({
      RETRAIN_PORT: String(port),
      RETRAIN_METRICS_PORT: "0",
      DATA_PATH: path.join(root, "data"),
      MODEL_PATH: path.join(root, "models"),
      FEEDBACK_SIGNING_KEY: replicas.signingKey.toString("hex"),
      HEARTBEAT_INTERVAL_MS: "1000",
    });
    let retrain: ChildService = await startRetrainProcess(env(0));
    cleanups.push(() => retrain.kill());
    const port = retrain.port;
    try {
      const web = await buildWeb({ outDir: path.join(root, "dist") });
      const { server: predict } = await replicas.replica(`127.0.0.1:${port}`, { tls: undefined });
      cleanups.push(() => replicas.close());
      await predict.holder.waitFor(() => true, 120_000);
      const bridge = new TestGrpcWebBridge({
        predictAddresses: [`127.0.0.1:${predict.port}`],
        retrainAddress: `127.0.0.1:${port}`,
        webRoot: web.outDir,
        logger: silent,
      });
      const { port: bridgePort } = await bridge.listen(0, "127.0.0.1");
      cleanups.push(() => bridge.close());
      const url = `${TestGrpcWebBridge.url(bridgePort)}/`;
      const browser = await launchHeadlessChromium();
      cleanups.push(() => browser.close());
      const rowsFor = (predictionId: string): number => {
        const db = new Database(path.join(root, "data", STORE_FILE_NAME), { readonly: true });
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

      for (const kind of ["kill", "freeze"] as const) {
        const outcome = await scenario(browser, url, kind, outageMs, {
          down: async () => {
            if (kind === "kill") await retrain.kill();
            else process.kill(retrain.pid ?? 0, "SIGSTOP");
          },
          up: async () => {
            if (kind === "kill") retrain = await startRetrainProcess(env(port));
            else process.kill(retrain.pid ?? 0, "SIGCONT");
          },
          rowsFor,
        });
        const once = outcome.rows.filter((n) => n === 1).length;
        context.note(
          `${kind}: ${once} of ${VERDICTS} stored exactly once (rows per prediction: ${outcome.rows.join(", ")}); during the outage the page said: "${outcome.saidWaiting}"`,
        );
        context.record({
          name: `${kind} ${outageMs / 1000} s: all ${VERDICTS} stored, after Retrain serves again`,
          unit: "ms",
          samples: [outcome.storedAfterBackMs],
          target: `<= ${STORED_WITHIN_MS} ms, each once`,
          met: outcome.storedAfterBackMs <= STORED_WITHIN_MS && once === VERDICTS,
        });
        context.record({
          name: `${kind}: longest "Sending…" before the page said the verdict waits`,
          unit: "ms",
          samples: [outcome.longestSendingMs],
        });
      }
    } finally {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    }
  },
};

async function scenario(
  browser: Browser,
  url: string,
  kind: "kill" | "freeze",
  outageMs: number,
  control: {
    down: () => Promise<void>;
    up: () => Promise<void>;
    rowsFor: (predictionId: string) => number;
  },
): Promise<Outcome> {
  const browserContext = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  try {
    const page = await browserContext.newPage();
    await page.goto(url);
    await page.waitForSelector("#field-age", { timeout: 60_000 });
    await control.down();
    const downAt = performance.now();
    const ids: string[] = [];
    let longestSendingMs = 0;
    for (let i = 0; i < VERDICTS; i++) {
      ids.push(await predict(page, 40 + i + (kind === "kill" ? 0 : 20)));
      const clicked = performance.now();
      await page.click('button[data-verdict="1"]');
      await page.waitForSelector(".feedback-message:has-text('Waiting to be sent')", { timeout: 60_000 });
      longestSendingMs = Math.max(longestSendingMs, performance.now() - clicked);
    }
    await page.reload();
    await page.waitForSelector(`#outbox:has-text('${VERDICTS} verdicts waiting to be sent')`, {
      timeout: 60_000,
    });
    const saidWaiting = ((await page.textContent("#outbox .outbox-status")) ?? "").trim();
    const left = outageMs - (performance.now() - downAt);
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
    await control.up();
    const backAt = performance.now();
    await waitUntil("every verdict stored", () => ids.every((id) => control.rowsFor(id) >= 1), 120_000, 50);
    const storedAfterBackMs = Math.round(performance.now() - backAt);
    await page.waitForSelector(`#outbox:has-text('${VERDICTS} waiting verdicts have been sent')`, {
      timeout: 60_000,
    });
    return {
      storedAfterBackMs,
      rows: ids.map((id) => control.rowsFor(id)),
      saidWaiting,
      longestSendingMs: Math.round(longestSendingMs),
    };
  } finally {
    await browserContext.close();
  }
}

/** Fills the form with a patient of `age`, predicts, and returns the prediction's id. */
async function predict(page: Page, age: number): Promise<string> {
  await page.fill("#field-age", String(age));
  for (const [name, value] of PATIENT) await page.fill(`#field-${name}`, value);
  await page.selectOption("#field-gender", "GENDER_FEMALE");
  const before = (await page.textContent("#result")) ?? "";
  await page.click("#predict-button");
  return waitUntil(
    "a new prediction",
    async () => {
      const text = (await page.textContent("#result")) ?? "";
      const match = /Prediction ([0-9a-f-]{36})\./.exec(text);
      return match !== null && text !== before ? match[1] : undefined;
    },
    60_000,
  );
}
