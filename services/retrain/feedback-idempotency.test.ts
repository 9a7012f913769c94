import { status } from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FeedbackVerdict, type RetrainServiceClient } from "../gen/liver/v1/retrain_service.js";
import type { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import { startRetrainServer, type RetrainServerHandle } from "./retrain-server.js";
import { expectStatus, failure, retrainClient, unary } from "./testing/retrain-clients.js";
import { prediction, tempDir, testConfig, testSigner } from "./testing/retrain-fixtures.js";

const silent = pino({ level: "silent" });
const LIMIT = 2;

describe("a resubmitted token at its source's hourly limit (real server, real SQLite)", () => {
  let tmp: ReturnType<typeof tempDir>;
  let signer: FeedbackTokenSigner;
  let server: RetrainServerHandle;
  let client: RetrainServiceClient;

  beforeAll(async () => {
    tmp = tempDir();
    const keys = testSigner();
    signer = keys.signer;
    server = await startRetrainServer(
      testConfig(tmp.dir, keys.key, { feedbackPerSourcePerHour: LIMIT, minBatch: 1_000_000 }),
      silent,
      { syntheticRows: 300, defaultMetrics: false },
    );
    client = retrainClient(server.port);
    await server.scheduler.whenIdle();
  });

  afterAll(async () => {
    client.close();
    await server.close();
    tmp.remove();
  });

  function submit(token: string, verdict = FeedbackVerdict.FEEDBACK_VERDICT_CORRECT) {
    return unary(client.submitFeedback.bind(client), { feedbackToken: token, verdict });
  }

  it("answers duplicate with the stored id, while a new token from that source is still limited", async () => {
    const tokens = Array.from({ length: LIMIT }, () => signer.sign(prediction({ diagnosis: 1 })));
    const first = await Promise.all(tokens.map((token) => submit(token)));
    expect(first.map((ack) => ack.duplicate)).toEqual([false, false]);

    expectStatus(
      await failure(submit(signer.sign(prediction({ diagnosis: 1 })))),
      status.RESOURCE_EXHAUSTED,
      /retry in \d+ s/,
    );
    // The acknowledgements were "lost": the client sends the same tokens again, even with another verdict.
    const again = await Promise.all(
      tokens.map((token) => submit(token, FeedbackVerdict.FEEDBACK_VERDICT_WRONG)),
    );
    expect(again.map((ack) => ack.duplicate)).toEqual([true, true]);
    expect(again.map((ack) => ack.feedbackId)).toEqual(first.map((ack) => ack.feedbackId));
    expect(again.map((ack) => ack.retrainScheduled)).toEqual([false, false]);

    // Repeats took no slot and returned none: the source is as limited as before.
    expectStatus(
      await failure(submit(signer.sign(prediction({ diagnosis: 2 })))),
      status.RESOURCE_EXHAUSTED,
      /retry in \d+ s/,
    );
  });
});
