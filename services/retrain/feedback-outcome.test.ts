import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FeedbackState,
  FeedbackVerdict,
  type RetrainServiceClient,
} from "../gen/liver/v1/retrain_service.js";
import type { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import { FEATURE_COUNT } from "../shared/features/feature-schema.js";
import { feedbackOutcome } from "./feedback-outcome.js";
import { PlausibilityScreen } from "./plausibility-screen.js";
import { storeFilePath } from "./retrain-config.js";
import { startRetrainServer, type RetrainServerHandle } from "./retrain-server.js";
import { SampleStore } from "./store/sample-store.js";
import { openSqliteStore } from "./store/sqlite-store.js";
import { retrainClient, unary } from "./testing/retrain-clients.js";
import { prediction, tempDir, testConfig, testSigner } from "./testing/retrain-fixtures.js";
import { WorkerTrainer } from "./training-worker.js";

describe("feedbackOutcome", () => {
  it("names the state on the wire and gives a reason only for rows held back from training", () => {
    expect(feedbackOutcome("trained", "")).toEqual({
      state: FeedbackState.FEEDBACK_STATE_TRAINED,
      stateReason: "",
    });
    expect(feedbackOutcome("unlabelled", "")).toEqual({
      state: FeedbackState.FEEDBACK_STATE_UNLABELLED,
      stateReason: "",
    });
    expect(feedbackOutcome("excluded", "ticket 42").stateReason).toBe(
      "a reviewer took it out of training (ticket 42)",
    );
    expect(feedbackOutcome("excluded", "").stateReason).toBe("a reviewer took it out of training");
  });

  it("turns each screen reason into plain words without the operator's figures", () => {
    const plain = (reason: string): string => feedbackOutcome("quarantined", reason).stateReason;
    expect(plain("contradicts a very confident model: labelled healthy; v1 answered 99.0%")).toBe(
      "it contradicts an answer the model gave with very high confidence; a reviewer decides whether it is used for training",
    );
    expect(plain("out-of-range leverage: total_bilirubin = 900 lies 9.1 standard deviations")).toMatch(
      /^a value lies far outside the data the model was built on; a reviewer decides/,
    );
    expect(plain("implausible combination of values: Mahalanobis distance 9.0")).toMatch(
      /^this combination of values is very unusual/,
    );
    expect(plain("a reason from a custom screen")).toMatch(
      /^the plausibility screen held it back; a reviewer/,
    );
    for (const reason of ["contradicts a very confident model: 99.0%", "Mahalanobis distance 9.0"])
      expect(plain(reason)).not.toMatch(/\d/);
  });
});

describe("SubmitFeedback reports where the verdict stands (real plausibility screen)", () => {
  let tmp: ReturnType<typeof tempDir>;
  let signer: FeedbackTokenSigner;
  let server: RetrainServerHandle;
  let client: RetrainServiceClient;
  /** An original row the server's screen lets train when labelled as it is: features and label. */
  let ordinary: { features: Float64Array; label: 0 | 1 } | undefined;
  const submit = (token: string, verdict: FeedbackVerdict) =>
    unary(client.submitFeedback.bind(client), { feedbackToken: token, verdict });

  beforeAll(async () => {
    tmp = tempDir("outcome-");
    const keys = testSigner();
    signer = keys.signer;
    const config = testConfig(tmp.dir, keys.key, { feedbackScreening: true });
    const silent = pino({ level: "silent" });
    server = await startRetrainServer(config, silent, {
      trainer: WorkerTrainer.forConfig(config, silent),
      syntheticRows: 1500,
      defaultMetrics: false,
    });
    client = retrainClient(server.port);
    await server.scheduler.whenIdle();
    const db = openSqliteStore(storeFilePath(config), { readonly: true });
    const original = new SampleStore(db).loadDataset();
    db.close();
    const screen = new PlausibilityScreen(original);
    for (let row = 0; row < original.rows && ordinary === undefined; row++) {
      const features = original.features.slice(row * FEATURE_COUNT, (row + 1) * FEATURE_COUNT);
      const label = original.labels[row] === 1 ? 1 : 0;
      const probability = label === 1 ? 0.7 : 0.3;
      if (screen.screen({ features, label, probability, modelVersion: "v1" }).state === "trained")
        ordinary = { features, label };
    }
  });

  afterAll(async () => {
    client.close();
    await server.close();
    tmp.remove();
  });

  it("reports a verdict that contradicts a very confident model as quarantined with a plain reason, also on a repeat", async () => {
    const confident = prediction({ probability: 0.995, diagnosis: 1 });
    const token = signer.sign(confident);
    const answer = await submit(token, FeedbackVerdict.FEEDBACK_VERDICT_WRONG);
    expect(answer).toMatchObject({
      duplicate: false,
      retrainScheduled: false,
      state: FeedbackState.FEEDBACK_STATE_QUARANTINED,
    });
    expect(answer.stateReason).toMatch(/^it contradicts an answer the model gave with very high confidence/);
    const again = await submit(token, FeedbackVerdict.FEEDBACK_VERDICT_WRONG);
    expect(again).toMatchObject({
      duplicate: true,
      feedbackId: answer.feedbackId,
      state: FeedbackState.FEEDBACK_STATE_QUARANTINED,
      stateReason: answer.stateReason,
    });
  });

  it("reports an agreeing verdict as trained and don't know as unlabelled, neither with a reason", async () => {
    if (ordinary === undefined) throw new Error("no original row passes the screen");
    const { features, label } = ordinary;
    const answered = { features, probability: label === 1 ? 0.7 : 0.3, diagnosis: label === 1 ? 1 : 2 };
    const agreed = await submit(signer.sign(prediction(answered)), FeedbackVerdict.FEEDBACK_VERDICT_CORRECT);
    expect(agreed).toMatchObject({ state: FeedbackState.FEEDBACK_STATE_TRAINED, stateReason: "" });
    const unsure = await submit(signer.sign(prediction(answered)), FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN);
    expect(unsure).toMatchObject({ state: FeedbackState.FEEDBACK_STATE_UNLABELLED, stateReason: "" });
  });
});
