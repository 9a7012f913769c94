/**
 * The whole loop of issue 4 with real processes: RetrainService (a child process, so it can
 * be SIGKILLed) and three PredictService replicas on ephemeral ports. Every wait is a poll
 * on observable behaviour with a deadline; nothing sleeps.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FeedbackVerdict, type RetrainServiceClient } from "../gen/liver/v1/retrain_service.js";
import { retrainClient, unary } from "../retrain/testing/retrain-clients.js";
import { PROMOTE_EVERY_CANDIDATE_ENV } from "../retrain/testing/retrain-fixtures.js";
import { validPatient } from "./testing/patients.js";
import { ReplicaFixture, type TestReplica } from "./testing/replica-fixture.js";
import { type ChildService, startRetrainProcess } from "./testing/child-service.js";
import { waitUntil } from "./testing/wait-until.js";

const fixture = new ReplicaFixture();
let dataDir: string;
let retrain: ChildService | undefined;
let replicas: TestReplica[] = [];
let feedbackClient: RetrainServiceClient | undefined;

function retrainEnv(minBatch: number, port: number): Record<string, string> {
  return {
    RETRAIN_PORT: String(port),
    RETRAIN_METRICS_PORT: "0",
    DATA_PATH: path.join(dataDir, "data"),
    MODEL_PATH: path.join(dataDir, "models"),
    FEEDBACK_SIGNING_KEY: fixture.signingKey.toString("hex"),
    // Every feedback trains and every candidate is promoted: these figures follow promotions.
    ...PROMOTE_EVERY_CANDIDATE_ENV,
    RETRAIN_DEBOUNCE_MS: "0",
    RETRAIN_MIN_BATCH: String(minBatch),
    HEARTBEAT_INTERVAL_MS: "1000",
  };
}

/** Sends WRONG feedback on a fresh prediction of `replica`; resolves on the acknowledgement. */
async function wrongFeedback(target: TestReplica): Promise<void> {
  const answer = await target.client.predict(validPatient({ age: 30 + Math.floor(Math.random() * 40) }));
  const client = feedbackClient;
  if (client === undefined) throw new Error("no Retrain client");
  const ack = await unary(client.submitFeedback.bind(client), {
    feedbackToken: answer.feedbackToken,
    verdict: FeedbackVerdict.FEEDBACK_VERDICT_WRONG,
  });
  expect(ack.duplicate).toBe(false);
}

/** Polls every replica with Predict until all answer with `version`. */
async function allAnswerWith(version: string, timeoutMs = 60_000): Promise<void> {
  await Promise.all(
    replicas.map((r, i) =>
      waitUntil(
        `replica ${i} answering with ${version}`,
        async () => (await r.client.predict(validPatient())).modelVersion === version,
        timeoutMs,
        5,
      ),
    ),
  );
}

beforeAll(async () => {
  dataDir = await fixture.tempDir("predict-live-");
  retrain = await startRetrainProcess(retrainEnv(2, 0));
  feedbackClient = retrainClient(retrain.port);
  const address = `127.0.0.1:${retrain.port}`;
  replicas = await Promise.all([0, 1, 2].map(() => fixture.replica(address, { heartbeatTimeoutMs: 5_000 })));
  fixture.onClose(async () => {
    feedbackClient?.close();
    await retrain?.stop();
  });
});

afterAll(() => fixture.close());

describe("Retrain and three Predict replicas", () => {
  it("follow feedback to a new version, survive a Retrain crash, and converge after it restarts", async () => {
    const port = retrain?.port ?? 0;
    try {
      await allAnswerWith("v1");

      // WRONG feedback on predictions (two, the minimum batch) makes v2, which every replica serves.
      await wrongFeedback(replica(0));
      await wrongFeedback(replica(1));
      await allAnswerWith("v2");
      for (const r of replicas) {
        expect(r.server.subscribed()).toBe(true);
        expect(await r.client.healthStatus()).toBe("SERVING");
      }

      // One more labelled feedback is stored but below the minimum batch: nothing trains yet.
      await wrongFeedback(replica(2));

      // Retrain dies with the streams open. The replicas keep answering with v2, no errors.
      await retrain?.kill();
      await Promise.all(
        replicas.map((r, i) => waitUntil(`replica ${i} to notice`, () => !r.server.subscribed())),
      );
      for (let round = 0; round < 20; round++) {
        const answers = await Promise.all(
          replicas.map((r) => r.client.predict(validPatient({ albumin: 1 + round / 10 }))),
        );
        for (const answer of answers) expect(answer.modelVersion).toBe("v2");
      }
      for (const r of replicas) {
        const info = await r.client.modelInfo();
        expect(info.subscribed).toBe(false);
        expect(info.modelVersion).toBe("v2");
        expect(await r.client.healthStatus()).toBe("SERVING");
      }

      // Retrain comes back on the same port and data, retrains the feedback it had not covered
      // (v3), and every replica reconnects and converges on it.
      retrain = await startRetrainProcess(retrainEnv(1, port));
      await allAnswerWith("v3");
      for (const r of replicas) await waitUntil("subscribed again", () => r.server.subscribed());
    } catch (error) {
      throw new Error(`${(error as Error).message}\nRetrainService log:\n${retrain?.output() ?? ""}`, {
        cause: error,
      });
    }
  });
});

function replica(index: number): TestReplica {
  const found = replicas[index];
  if (found === undefined) throw new Error(`replica ${index} was not started`);
  return found;
}
