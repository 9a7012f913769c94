import { describe, expect, it } from "vitest";
import type { CallOptions, GrpcWebClient } from "./src/grpc-web-client.js";
import { FeedbackVerdict } from "./src/gen/liver/v1/retrain_service.js";
import { LIVER_METHODS, LiverApi } from "./src/liver-api.js";
import { type RandomFill, newTraceparent } from "./src/trace-context.js";

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

/** A LiverApi over a client that records each call's path and options and answers `{}`. */
function recordingApi(): { api: LiverApi; sent: { path: string; options: CallOptions }[] } {
  const sent: { path: string; options: CallOptions }[] = [];
  const client = {
    unary: (method: { path: string }, _request: unknown, options: CallOptions = {}) => {
      sent.push({ path: method.path, options });
      return Promise.resolve({});
    },
  } as unknown as GrpcWebClient;
  return { api: new LiverApi(client), sent };
}

describe("newTraceparent", () => {
  it("is a sampled W3C traceparent of a new trace each time", () => {
    const first = newTraceparent();
    const second = newTraceparent();
    expect(first).toMatch(TRACEPARENT);
    expect(second).toMatch(TRACEPARENT);
    expect(second.slice(3, 35)).not.toBe(first.slice(3, 35));
  });

  it("draws again rather than send an all-zero (invalid) id", () => {
    let calls = 0;
    const random: RandomFill = (bytes) => (calls++ < 2 ? bytes : bytes.fill(0xab));
    expect(newTraceparent(random)).toBe(`00-${"ab".repeat(16)}-${"ab".repeat(8)}-01`);
  });
});

describe("the page's calls", () => {
  it("start a new trace on each Predict and SubmitFeedback, keeping their deadlines", async () => {
    const { api, sent } = recordingApi();
    await api.predict({} as never);
    await api.submitFeedback("token", FeedbackVerdict.FEEDBACK_VERDICT_CORRECT, undefined, 1_000);
    await api.predict({} as never);
    expect(sent.map((s) => s.path)).toEqual([
      LIVER_METHODS.predict.path,
      LIVER_METHODS.submitFeedback.path,
      LIVER_METHODS.predict.path,
    ]);
    const traceparents = sent.map((s) => s.options.metadata?.["traceparent"] ?? "");
    for (const traceparent of traceparents) expect(traceparent).toMatch(TRACEPARENT);
    expect(new Set(traceparents).size).toBe(3);
    expect(sent[0]?.options.timeoutMs).toBe(LIVER_METHODS.predict.timeoutMs);
    expect(sent[1]?.options.timeoutMs).toBe(Math.min(1_000, LIVER_METHODS.submitFeedback.timeoutMs));
  });

  it("send no traceparent on the calls the page does not start a trace for", async () => {
    const { api, sent } = recordingApi();
    await api.getModelInfo();
    await api.getRetrainStatus();
    await api.listModelVersions();
    expect(sent).toHaveLength(3);
    expect(sent.every((s) => s.options.metadata === undefined)).toBe(true);
  });
});
