import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FeedbackVerdict, type GetRetrainStatusResponse } from "../gen/liver/v1/retrain_service.js";
import { LPD_CSV_RELATIVE_PATH } from "../shared/data/original-dataset.js";
import { FEATURE_COUNT, FEATURES, LABEL_CSV_HEADER } from "../shared/features/feature-schema.js";
import type { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import type { RetrainConfig } from "./retrain-config.js";
import { startRetrainServer } from "./retrain-server.js";
import { retrainClient, unary } from "./testing/retrain-clients.js";
import { prediction, smallDataset, tempDir, testConfig, testSigner } from "./testing/retrain-fixtures.js";
import { WorkerTrainer } from "./training-worker.js";

/** Collects every log line, so the test can read what an operator would see. */
function recordingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => lines.push(line) });
  return { logger, lines };
}

/** `rows` labelled rows in the real file's format (its header, Male/Female, Result 1/2). */
function lpdCsv(rows: number): string {
  const dataset = smallDataset(rows, 11);
  const header = [...FEATURES.map((spec) => spec.csvHeader), LABEL_CSV_HEADER].join(",");
  const lines = [header];
  for (let row = 0; row < rows; row++) {
    const cells = FEATURES.map((spec, i) => {
      const value = dataset.features[row * FEATURE_COUNT + i] ?? 0;
      return spec.kind === "gender" ? (value === 1 ? "Male" : "Female") : String(value);
    });
    cells.push(dataset.labels[row] === 1 ? "1" : "2");
    lines.push(cells.join(","));
  }
  return `${lines.join("\r\n")}\r\n`;
}

/** One life of the RetrainService on the shared folders: start, wait for quiet, read the status, stop. */
async function life(
  config: RetrainConfig,
  during?: (port: number) => Promise<void>,
): Promise<{ status: GetRetrainStatusResponse; log: string[] }> {
  const { logger, lines } = recordingLogger();
  const server = await startRetrainServer(config, logger, {
    trainer: WorkerTrainer.forConfig(config, logger),
    syntheticRows: 1200,
    defaultMetrics: false,
  });
  const client = retrainClient(server.port);
  try {
    await server.scheduler.whenIdle();
    await during?.(server.port);
    await server.scheduler.whenIdle();
    return { status: await unary(client.getRetrainStatus.bind(client), {}), log: lines };
  } finally {
    client.close();
    await server.close();
  }
}

describe("switching the original data: a start compares it with the store's, and --reimport switches", () => {
  let tmp: ReturnType<typeof tempDir>;
  let signer: FeedbackTokenSigner;
  let base: RetrainConfig;
  let first: GetRetrainStatusResponse;

  beforeAll(async () => {
    tmp = tempDir("original-data-");
    const keys = testSigner();
    signer = keys.signer;
    base = testConfig(tmp.dir, keys.key);
    // First life on the synthetic default (no CSV), with three labelled feedbacks.
    ({ status: first } = await life(base, async (port) => {
      const client = retrainClient(port);
      try {
        for (let i = 0; i < 3; i++) {
          await unary(client.submitFeedback.bind(client), {
            feedbackToken: signer.sign(prediction({ diagnosis: i % 2 === 0 ? 1 : 2 })),
            verdict: FeedbackVerdict.FEEDBACK_VERDICT_CORRECT,
          });
        }
      } finally {
        client.close();
      }
    }));
  });

  afterAll(() => tmp.remove());

  it("a first start imports the synthetic default without a notice", () => {
    expect(first.syntheticData).toBe(true);
    expect(first.originalRows).toBe(1200);
    expect(first.originalDataNotice).toBe("");
    expect(first.counts?.correct).toBe(3);
  });

  it("a start with the real file present keeps the stored data but says so, with how to switch; --reimport switches and keeps all feedback", async () => {
    mkdirSync(path.join(base.dataPath, "raw"), { recursive: true });
    writeFileSync(path.join(base.dataPath, LPD_CSV_RELATIVE_PATH), lpdCsv(800), "latin1");

    const warned = await life(base);
    expect(warned.status.syntheticData).toBe(true);
    expect(warned.status.originalRows).toBe(1200);
    expect(warned.status.modelVersion).toBe(first.modelVersion);
    expect(warned.status.originalDataNotice).toMatch(
      /^The original data found now \(real data from .*Liver Patient Dataset \(LPD\)_train\.csv: 800 of 800 rows kept.*\) differs from the data this store was imported from on .* \(synthetic default data .*\)\. Training and the holdout still use the stored data\. To switch, restart with REIMPORT_ORIGINAL_DATA=1 \(npm start -- --reimport\)/,
    );
    expect(
      warned.log.some((line) => line.includes('"level":40') && line.includes("differs from the data")),
    ).toBe(true);

    const switched = await life({ ...base, reimportOriginalData: true });
    expect(switched.status.syntheticData).toBe(false);
    expect(switched.status.originalRows).toBe(800);
    expect(switched.status.originalDataNotice).toBe("");
    expect(switched.status.counts).toEqual(first.counts);
    expect(switched.status.modelVersion).not.toBe(first.modelVersion);
    expect(switched.status.lastRun?.feedbackRows).toBe(3);
    expect(switched.log.some((line) => line.includes("re-imported the original data: real data from"))).toBe(
      true,
    );

    // The flag left on: the data now matches, so nothing is re-imported again.
    const again = await life({ ...base, reimportOriginalData: true });
    expect(again.status.modelVersion).toBe(switched.status.modelVersion);
    expect(again.status.originalDataNotice).toBe("");
    expect(again.log.some((line) => line.includes("nothing to re-import"))).toBe(true);
  });
});
