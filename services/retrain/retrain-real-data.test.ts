import { randomUUID } from "node:crypto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FeedbackVerdict,
  ModelVersionEventKind,
  type RetrainServiceClient,
} from "../gen/liver/v1/retrain_service.js";
import { loadLpdCsv } from "../shared/data/lpd-csv-loader.js";
import type { Dataset } from "../shared/data/dataset.js";
import { FEATURE_COUNT } from "../shared/features/feature-schema.js";
import type { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import { REAL_CSV_PATH, haveRealCsv } from "../shared/testing/real-dataset.js";
import { startRetrainServer, type RetrainServerHandle } from "./retrain-server.js";
import { retrainClient, unary, watch } from "./testing/retrain-clients.js";
import { DEFAULT_GATE_POLICY } from "./quality-gate.js";
import { tempDir, testConfig, testSigner } from "./testing/retrain-fixtures.js";
import { WorkerTrainer } from "./training-worker.js";

const silent = pino({ level: "silent" });

describe.skipIf(!haveRealCsv)("RetrainService on the real LPD file", () => {
  let tmp: ReturnType<typeof tempDir>;
  let server: RetrainServerHandle;
  let client: RetrainServiceClient;
  let signer: FeedbackTokenSigner;
  let real: Dataset;

  beforeAll(async () => {
    tmp = tempDir();
    const keys = testSigner();
    signer = keys.signer;
    real = (await loadLpdCsv(REAL_CSV_PATH)).dataset;
    const config = testConfig(tmp.dir, keys.key, {
      trainingCsv: REAL_CSV_PATH,
      gatePolicy: DEFAULT_GATE_POLICY,
    });
    const trainer = WorkerTrainer.forConfig(config, silent);
    server = await startRetrainServer(config, silent, { trainer, defaultMetrics: false });
    await server.scheduler.whenIdle();
    client = retrainClient(server.port);
  });

  afterAll(async () => {
    client.close();
    await server.close();
    tmp.remove();
  });

  it("imports the real rows and trains v1 on them with the reference quality", async () => {
    const report = await unary(client.getRetrainStatus.bind(client), {});
    expect(report).toMatchObject({ syntheticData: false, originalRows: real.rows, modelVersion: "v1" });
    const [v1] = (await unary(client.listModelVersions.bind(client), {})).versions;
    expect(v1?.trainedOnSyntheticData).toBe(false);
    // Reference: scikit-learn logistic regression on the deduplicated rows scores 0.7576.
    expect(v1?.metrics?.rocAuc).toBeGreaterThan(0.75);
    expect((v1?.rowCounts?.originalRows ?? 0) + (v1?.rowCounts?.holdoutRows ?? 0)).toBeLessThanOrEqual(
      real.rows,
    );
  });

  it("promotes a candidate trained on the real data plus a labelled feedback, and streams it", async () => {
    const stream = watch(client);
    await stream.next((e) => e.kind === ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_CURRENT);
    const features = real.features.slice(0, FEATURE_COUNT);
    const token = signer.sign({
      predictionId: randomUUID(),
      modelVersion: "v1",
      features,
      probability: 0.4,
      diagnosis: 2,
      issuedAtMs: Date.now(),
    });
    const ack = await unary(client.submitFeedback.bind(client), {
      feedbackToken: token,
      verdict: FeedbackVerdict.FEEDBACK_VERDICT_WRONG,
    });
    expect(ack.retrainScheduled).toBe(true);
    const promoted = await stream.next(
      (e) => e.kind === ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_PROMOTED,
    );
    expect(promoted.modelVersion).toBe("v2");
    expect(promoted.trainedOnSyntheticData).toBe(false);
    stream.cancel();
  });
});
