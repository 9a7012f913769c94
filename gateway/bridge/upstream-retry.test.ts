import { once } from "node:events";
import { createServer, type Http2Server, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo } from "node:net";
import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { encodeMessageFrame } from "../grpc-web-framing.js";
import { GrpcUpstream, type UpstreamRequest, type UpstreamStatus } from "./grpc-upstream.js";
import { callWithRetries, RetryThrottle, type RetryPolicy } from "./upstream-retry.js";

// The bridge's retry of SubmitFeedback against a scripted plaintext HTTP/2 server: each
// request is answered by the next status in the script (then OK with one message).

const SUBMIT = "/liver.v1.RetrainService/SubmitFeedback";
const FAST: RetryPolicy = { maxAttempts: 4, initialBackoffMs: 5, maxBackoffMs: 20 };

interface Scripted {
  readonly address: string;
  /** Requests received so far. */
  requests: number;
}

let server: Http2Server | undefined;
afterEach(async () => {
  server?.close();
  if (server !== undefined) await once(server, "close");
  server = undefined;
});

async function scriptedServer(script: status[]): Promise<Scripted> {
  const state = { address: "", requests: 0 };
  server = createServer();
  server.on("stream", (stream: ServerHttp2Stream) => {
    state.requests++;
    stream.resume();
    const code = script.shift() ?? status.OK;
    if (code !== status.OK) {
      stream.respond(
        {
          ":status": 200,
          "content-type": "application/grpc",
          "grpc-status": String(code),
          "grpc-message": "scripted",
        },
        { endStream: true },
      );
      return;
    }
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.end(encodeMessageFrame(Uint8Array.from([8, state.requests])));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  state.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

function run(
  upstream: GrpcUpstream,
  throttle: RetryThrottle,
  request: Partial<UpstreamRequest> = {},
): Promise<{ messages: Uint8Array[]; status: UpstreamStatus }> {
  return new Promise((resolve) => {
    const messages: Uint8Array[] = [];
    callWithRetries(
      upstream,
      {
        path: SUBMIT,
        metadata: {},
        frame: encodeMessageFrame(new Uint8Array()),
        timeoutMs: 5000,
        ...request,
      },
      {
        onMetadata: () => undefined,
        onMessage: (m) => messages.push(m),
        onStatus: (s) => resolve({ messages, status: s }),
      },
      throttle,
      FAST,
    );
  });
}

describe("callWithRetries", () => {
  it("retries UNAVAILABLE until the upstream answers, and delivers only the answer", async () => {
    const scripted = await scriptedServer([status.UNAVAILABLE, status.UNAVAILABLE]);
    const upstream = new GrpcUpstream(scripted.address);
    const outcome = await run(upstream, new RetryThrottle());
    upstream.close();
    expect(outcome.status.code).toBe(status.OK);
    expect(outcome.messages.map((m) => Array.from(m))).toEqual([[8, 3]]);
    expect(scripted.requests).toBe(3);
  });

  it("gives up after the policy's attempts and reports the last UNAVAILABLE", async () => {
    const scripted = await scriptedServer(Array.from({ length: 10 }, () => status.UNAVAILABLE));
    const upstream = new GrpcUpstream(scripted.address);
    const outcome = await run(upstream, new RetryThrottle());
    upstream.close();
    expect(outcome.status).toMatchObject({ code: status.UNAVAILABLE, details: "scripted" });
    expect(scripted.requests).toBe(FAST.maxAttempts);
  });

  it("never retries an answer that a retry would not change", async () => {
    const scripted = await scriptedServer([status.FAILED_PRECONDITION]);
    const upstream = new GrpcUpstream(scripted.address);
    const outcome = await run(upstream, new RetryThrottle());
    upstream.close();
    expect(outcome.status.code).toBe(status.FAILED_PRECONDITION);
    expect(scripted.requests).toBe(1);
  });

  it("retries a refused connection (the service restarting) within the deadline", async () => {
    // Nothing listens on this port; every attempt fails to connect.
    const scripted = await scriptedServer([]);
    const address = scripted.address;
    server?.close();
    await once(server as Http2Server, "close");
    server = undefined;
    const upstream = new GrpcUpstream(address);
    const outcome = await run(upstream, new RetryThrottle());
    upstream.close();
    expect(outcome.status.code).toBe(status.UNAVAILABLE);
  });

  it("stops retrying once the throttle's tokens fall to half, and allows retries again after successes", () => {
    const throttle = new RetryThrottle(10, 0.1);
    const allowed = Array.from({ length: 6 }, () => throttle.failed());
    expect(allowed).toEqual([true, true, true, true, false, false]);
    for (let i = 0; i < 30; i++) throttle.succeeded();
    expect(throttle.failed()).toBe(true);
  });

  it("does not retry when the throttle has no tokens left", async () => {
    const scripted = await scriptedServer([status.UNAVAILABLE, status.UNAVAILABLE]);
    const upstream = new GrpcUpstream(scripted.address);
    const throttle = new RetryThrottle();
    for (let i = 0; i < 5; i++) throttle.failed();
    const outcome = await run(upstream, throttle);
    upstream.close();
    expect(outcome.status.code).toBe(status.UNAVAILABLE);
    expect(scripted.requests).toBe(1);
  });
});
