import { describe, expect, it } from "vitest";
import { LIVER_METHODS } from "./src/liver-api.js";
import { type RandomFill, newTraceparent, tracingFetch } from "./src/trace-context.js";

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

/** The headers of every request `tracingFetch` passed on. */
function recorder(random?: RandomFill): {
  fetch: ReturnType<typeof tracingFetch>;
  sent: { url: string; headers: Headers }[];
} {
  const sent: { url: string; headers: Headers }[] = [];
  const fetch = tracingFetch((url, init) => {
    sent.push({ url, headers: new Headers(init.headers) });
    return Promise.resolve(new Response(null));
  }, random);
  return { fetch, sent };
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

describe("tracingFetch", () => {
  it("starts a trace on Predict and SubmitFeedback, keeping the call's own headers", async () => {
    const { fetch, sent } = recorder();
    for (const path of [LIVER_METHODS.predict.path, LIVER_METHODS.submitFeedback.path]) {
      await fetch(`http://127.0.0.1:8080${path}`, { method: "POST", headers: { "x-grpc-web": "1" } });
    }
    await fetch(LIVER_METHODS.predict.path, { method: "POST" });
    expect(sent).toHaveLength(3);
    for (const { headers } of sent) {
      expect(headers.get("traceparent")).toMatch(TRACEPARENT);
    }
    expect(sent[0]?.headers.get("x-grpc-web")).toBe("1");
    expect(new Set(sent.map((s) => s.headers.get("traceparent"))).size).toBe(3);
  });

  it("leaves other calls and a traceparent already set alone", async () => {
    const { fetch, sent } = recorder();
    await fetch(LIVER_METHODS.getModelInfo.path, { method: "POST" });
    await fetch(LIVER_METHODS.watchModelVersions.path, { method: "POST" });
    const own = `00-${"1".repeat(32)}-${"2".repeat(16)}-00`;
    await fetch(LIVER_METHODS.predict.path, { method: "POST", headers: { traceparent: own } });
    expect(sent.map((s) => s.headers.get("traceparent"))).toEqual([null, null, own]);
  });
});
