import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { FeedbackVerdict } from "../gen/liver/v1/retrain_service.js";
import { principalOf, type Caller } from "../shared/auth/caller.js";
import { RetrainMetrics } from "./retrain-metrics.js";
import { RetrainService, type RetrainServiceDeps } from "./retrain-service.js";
import type { NewFeedback } from "./store/feedback-store.js";
import { prediction, testSigner } from "./testing/retrain-fixtures.js";

/** A RetrainService whose writer keeps what SubmitFeedback hands it (only the deps it uses). */
function serviceKeeping(entries: NewFeedback[]) {
  const { signer } = testSigner();
  const deps = {
    signer,
    writer: {
      submit: (entry: NewFeedback) => {
        entries.push(entry);
        return Promise.resolve({ stored: true, seq: entries.length, feedbackId: entry.feedbackId });
      },
    },
    scheduler: { recordLabelledFeedback: () => true },
    counts: { correct: 0, wrong: 0, unknown: 0 },
    metrics: new RetrainMetrics(),
    logger: pino({ level: "silent" }),
  } as unknown as RetrainServiceDeps;
  return { service: new RetrainService(deps), signer };
}

describe("SubmitFeedback attribution", () => {
  it("stores the verified caller's principal on the feedback, and '' when authentication is off", async () => {
    const entries: NewFeedback[] = [];
    const { service, signer } = serviceKeeping(entries);
    const alice: Caller = {
      principal: principalOf("https://idp.test", "alice"),
      issuer: "https://idp.test",
      subject: "alice",
      roles: ["liver-clinician"],
      admin: false,
    };
    const verdict = FeedbackVerdict.FEEDBACK_VERDICT_CORRECT;
    await service.submitFeedback(
      { feedbackToken: signer.sign(prediction({ principal: alice.principal })), verdict },
      alice,
    );
    await service.submitFeedback({ feedbackToken: signer.sign(prediction()), verdict });
    expect(entries.map((entry) => entry.principal)).toEqual(["https://idp.test|alice", ""]);
  });
});
