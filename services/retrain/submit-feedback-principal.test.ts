import { Metadata } from "@grpc/grpc-js";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { FeedbackVerdict } from "../gen/liver/v1/retrain_service.js";
import { principalOf, type Caller } from "../shared/auth/caller.js";
import {
  DEFAULT_TRUSTED_GATEWAY_ADDRESSES,
  FeedbackAttribution,
  parseTrustedAddresses,
} from "./feedback-attribution.js";
import { RetrainMetrics } from "./retrain-metrics.js";
import { SourceRateLimiter } from "./source-rate-limiter.js";
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
    sourceLimiter: new SourceRateLimiter({ perWindow: 0, now: Date.now }),
    counts: { correct: 0, wrong: 0, unknown: 0 },
    metrics: new RetrainMetrics(),
    logger: pino({ level: "silent" }),
  } as unknown as RetrainServiceDeps;
  return { service: new RetrainService(deps), signer };
}

const attribution = new FeedbackAttribution(parseTrustedAddresses(DEFAULT_TRUSTED_GATEWAY_ADDRESSES));
const forwarded = new Metadata();
forwarded.set("x-forwarded-for", "198.51.100.7");

describe("SubmitFeedback attribution", () => {
  it("stores the verified caller's principal on the feedback and makes it the source; '' when authentication is off", async () => {
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
      attribution.origin("127.0.0.1:4000", forwarded, alice.principal),
      alice,
    );
    await service.submitFeedback(
      { feedbackToken: signer.sign(prediction()), verdict },
      attribution.origin("127.0.0.1:4000", forwarded),
    );
    expect(entries.map((entry) => entry.principal)).toEqual(["https://idp.test|alice", ""]);
    // The per-source limits and review filters key on the principal once there is one.
    expect(entries.map((entry) => entry.source)).toEqual(["https://idp.test|alice", "198.51.100.7"]);
    expect(entries.map((entry) => entry.clientAddress)).toEqual(["198.51.100.7", "198.51.100.7"]);
  });
});
