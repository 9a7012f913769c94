import { spawn } from "node:child_process";
import { once } from "node:events";
import {
  constants,
  createServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from "node:http2";
import { request as httpRequest } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { status } from "@grpc/grpc-js";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { GrpcWebBridge } from "./grpc-web-bridge.js";
import { encodeGrpcMessage, RetryThrottle } from "./grpc-web-proxy.js";
import { encodeMessageFrame, grpcWebCall } from "./testing/grpc-web-fetch-client.js";

// The bridge's byte-level proxy against raw HTTP/2 upstreams that answer however a test
// scripts them (including the ways a gRPC server or a proxy in front of it misbehaves), and
// against bodies a stranger may send. Plaintext only: TLS adds nothing to what this checks
// (grpc-web-bridge.test.ts and bridge-tls.test.ts run the bridge over TLS).

const PREDICT = "/liver.v1.PredictService/Predict";
const SUBMIT = "/liver.v1.RetrainService/SubmitFeedback";
const OK_HEADERS = { ":status": 200, "content-type": "application/grpc" };

type Handler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, body: Buffer) => void;

interface Upstream {
  readonly server: Http2Server;
  readonly address: string;
  /** Streams received so far. */
  streams: number;
  readonly sessions: Set<ServerHttp2Session>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function rawUpstream(handle: Handler, port = 0): Promise<Upstream> {
  const server = createServer();
  const state = { server, address: "", streams: 0, sessions: new Set<ServerHttp2Session>() };
  server.on("session", (s: ServerHttp2Session) => state.sessions.add(s));
  server.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    state.streams++;
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => handle(stream, headers, Buffer.concat(chunks)));
    stream.on("error", () => undefined);
  });
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  state.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(() => stopUpstream(state));
  return state;
}

async function stopUpstream(upstream: Upstream): Promise<void> {
  if (!upstream.server.listening) return;
  for (const s of upstream.sessions) s.destroy();
  upstream.server.close();
  await once(upstream.server, "close");
}

/** Answers OK with one message `[8, n]` (n = streams so far), trailers with x-served-by. */
const answerOk =
  (state: { streams: number }): Handler =>
  (stream) => {
    stream.respond(OK_HEADERS, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0", "x-served-by": "raw" }));
    stream.end(encodeMessageFrame(Uint8Array.from([8, state.streams])));
  };

const trailersOnly = (stream: ServerHttp2Stream, code: number, message = "scripted"): void => {
  stream.respond(
    { ...OK_HEADERS, "grpc-status": String(code), "grpc-message": message },
    { endStream: true },
  );
};

async function bridgeTo(predict: string, retrain = predict): Promise<string> {
  return (await startBridge(predict, retrain)).base;
}

async function startBridge(
  predict: string,
  retrain = predict,
): Promise<{ base: string; bridge: GrpcWebBridge }> {
  const bridge = new GrpcWebBridge({
    predictAddresses: [predict],
    retrainAddress: retrain,
    logger: pino({ level: "silent" }),
  });
  const { port } = await bridge.listen(0);
  cleanups.push(() => bridge.close());
  return { base: `http://127.0.0.1:${port}`, bridge };
}

/** Starts a bridge (to no upstream) and prints its port: run in a child process with a small heap. */
const SMALL_HEAP_BRIDGE = `
  import { pino } from "pino";
  import { GrpcWebBridge } from "./gateway/bridge/grpc-web-bridge.ts";
  const bridge = new GrpcWebBridge({
    predictAddresses: ["127.0.0.1:1"], retrainAddress: "127.0.0.1:1", logger: pino({ level: "silent" }),
  });
  console.log((await bridge.listen(0)).port);`;

/** A raw POST to the bridge: what a stranger can send that no grpc-web client would. */
function post(
  base: string,
  body: Uint8Array | string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: IncomingHttpHeaders; message: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${PREDICT}`, { method: "POST", headers }, (res) => {
      res.resume();
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          message: decodeURIComponent(String(res.headers["grpc-message"] ?? "")),
        }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("the proxy towards the upstream", () => {
  it("sends a gRPC request: path, content type, te, grpc-timeout, metadata and the frame as is", async () => {
    let seen: { headers: IncomingHttpHeaders; body: Buffer } | undefined;
    const state: { streams: number } = { streams: 0 };
    const upstream = await rawUpstream((stream, headers, body) => {
      seen = { headers, body };
      answerOk(state)(stream, headers, body);
    });
    const base = await bridgeTo(upstream.address);
    const reply = await grpcWebCall(base, PREDICT, Uint8Array.from([8, 45]), {
      headers: { "x-request-id": "abc", "grpc-timeout": "2500m" },
    });
    expect(reply.code).toBe(status.OK);
    expect(reply.messages.map((m) => [...m])).toEqual([[8, 0]]);
    expect(reply.trailers).toContainEqual(["x-served-by", "raw"]);
    expect(seen?.headers[":path"]).toBe(PREDICT);
    expect(seen?.headers["content-type"]).toBe("application/grpc");
    expect(seen?.headers.te).toBe("trailers");
    expect(seen?.headers["x-request-id"]).toBe("abc");
    expect(seen?.headers["grpc-timeout"]).toMatch(/^2[45]\d\dm$/);
    expect(seen?.body).toEqual(Buffer.from(encodeMessageFrame(Uint8Array.from([8, 45]))));
  });

  it("passes a trailers-only answer through with its status, message and metadata", async () => {
    const upstream = await rawUpstream((stream) => {
      stream.respond(
        {
          ...OK_HEADERS,
          "grpc-status": "3",
          "grpc-message": "age%3A 200 is outside 4 to 90",
          "x-why": "range",
        },
        { endStream: true },
      );
    });
    const reply = await grpcWebCall(await bridgeTo(upstream.address), PREDICT, new Uint8Array());
    expect(reply.trailersOnly).toBe(true);
    expect(reply.code).toBe(status.INVALID_ARGUMENT);
    expect(reply.message).toBe("age: 200 is outside 4 to 90");
    expect(reply.headers.get("x-why")).toBe("range");
  });

  it("maps HTTP errors without grpc-status as gRPC clients do", async () => {
    for (const [httpStatus, code] of [
      [404, status.UNIMPLEMENTED],
      [503, status.UNAVAILABLE],
      [500, status.UNKNOWN],
    ] as const) {
      const upstream = await rawUpstream((stream) => {
        stream.respond({ ":status": httpStatus, "content-type": "text/html" });
        stream.end("<html>proxy error</html>");
      });
      const reply = await grpcWebCall(await bridgeTo(upstream.address), PREDICT, new Uint8Array());
      expect(reply.code, String(httpStatus)).toBe(code);
      expect(reply.message).toBe(`Received HTTP status code ${httpStatus}`);
    }
  });

  it("reports an upstream stream that ends without trailers as INTERNAL", async () => {
    const upstream = await rawUpstream((stream) => {
      stream.respond(OK_HEADERS);
      stream.end(encodeMessageFrame(Uint8Array.from([1])));
    });
    const reply = await grpcWebCall(await bridgeTo(upstream.address), PREDICT, new Uint8Array());
    expect(reply.code).toBe(status.INTERNAL);
    expect(reply.message).toMatch(/ended without grpc-status/);
  });

  it("answers UNAVAILABLE while the upstream is down, naming no internal address, and reconnects once it is back", async () => {
    const first = await rawUpstream(() => undefined);
    const port = Number(first.address.split(":")[1]);
    await stopUpstream(first);
    const base = await bridgeTo(first.address);
    const down = await grpcWebCall(base, PREDICT, new Uint8Array());
    expect(down.code).toBe(status.UNAVAILABLE);
    expect(down.trailersOnly).toBe(true);
    expect(down.message).toBe("the service is unreachable");
    expect(down.message).not.toContain(first.address.split(":")[1] ?? "");
    const state = { streams: 0 };
    await rawUpstream(answerOk(state), port);
    expect((await grpcWebCall(base, PREDICT, new Uint8Array())).code).toBe(status.OK);
  });

  it("drops an HTTP2-Settings header (hop-by-hop) rather than failing the call and the shared connection", async () => {
    const upstream = await rawUpstream(answerOk({ streams: 0 }));
    const base = await bridgeTo(upstream.address);
    expect((await grpcWebCall(base, PREDICT, new Uint8Array())).code).toBe(status.OK);
    // HTTP/2 forbids it in a request (node:http2 throws), so forwarding it cost every caller the connection.
    const reply = await grpcWebCall(base, PREDICT, new Uint8Array(), {
      headers: { "http2-settings": "AAMAAABkAARAAAAA" },
    });
    expect(reply.code).toBe(status.OK);
    expect(upstream.sessions.size).toBe(1);
  });

  it("answers UNAVAILABLE when the upstream's connection drops mid-call (a restart), so SubmitFeedback is retried", async () => {
    const upstream: Upstream = await rawUpstream((stream, headers, body) => {
      if (upstream.streams <= 2)
        stream.session?.destroy(); // node reports the drop as RST_STREAM CANCEL
      else answerOk({ streams: upstream.streams })(stream, headers, body);
    });
    const base = await bridgeTo(upstream.address);
    const predict = await grpcWebCall(base, PREDICT, new Uint8Array());
    expect(predict).toMatchObject({ code: status.UNAVAILABLE, message: "Connection dropped" });
    expect((await grpcWebCall(base, SUBMIT, new Uint8Array())).code).toBe(status.OK);
    expect(upstream.streams).toBe(3);
  });

  it("opens a new connection after the upstream says GOAWAY", async () => {
    const upstream: Upstream = await rawUpstream((stream) => {
      stream.respond(OK_HEADERS, { waitForTrailers: true });
      stream.on("wantTrailers", () => {
        stream.sendTrailers({ "grpc-status": "0" });
        stream.session?.goaway(constants.NGHTTP2_NO_ERROR); // a server draining
      });
      stream.end(encodeMessageFrame(Uint8Array.from([1])));
    });
    const base = await bridgeTo(upstream.address);
    for (let i = 0; i < 3; i++)
      expect((await grpcWebCall(base, PREDICT, new Uint8Array())).code).toBe(status.OK);
    expect(upstream.sessions.size).toBe(3);
  });

  it("resets the upstream stream with CANCEL when the browser goes away", async () => {
    let resetCode: (code: number) => void = () => undefined;
    const reset = new Promise<number>((resolve) => (resetCode = resolve));
    const upstream = await rawUpstream((stream) => {
      stream.respond(OK_HEADERS);
      stream.write(encodeMessageFrame(Uint8Array.from([1])));
      stream.on("close", () => resetCode(stream.rstCode));
    });
    const base = await bridgeTo(upstream.address);
    const abort = new AbortController();
    const call = grpcWebCall(base, "/liver.v1.RetrainService/WatchModelVersions", new Uint8Array(), {
      signal: abort.signal,
      onMessage: () => abort.abort(),
    });
    await expect(call).rejects.toThrow();
    expect(await reset).toBe(constants.NGHTTP2_CANCEL);
  });
});

describe("closing the bridge", () => {
  it("keeps a stream open under a client deadline longer than a timer holds, and sends it upstream in 8 digits", async () => {
    let headersSeen: IncomingHttpHeaders | undefined;
    const upstream = await rawUpstream((stream, headers) => {
      headersSeen = headers;
      stream.respond(OK_HEADERS);
      stream.write(encodeMessageFrame(Uint8Array.from([1])));
      // Answers the second message only after a pause a 1 ms timer would not survive.
      setTimeout(() => {
        if (stream.closed) return;
        stream.write(encodeMessageFrame(Uint8Array.from([2])));
        stream.end(undefined, () => undefined);
        stream.close();
      }, 200);
    });
    const { base } = await startBridge(upstream.address);
    const reply = await grpcWebCall(base, "/liver.v1.RetrainService/WatchModelVersions", new Uint8Array(), {
      headers: { "grpc-timeout": "99999999H" },
    });
    expect(reply.messages.map((m) => [...m])).toEqual([[1], [2]]);
    expect(reply.code).not.toBe(status.DEADLINE_EXCEEDED);
    expect(headersSeen?.["grpc-timeout"]).toMatch(/^\d{1,8}[HMSm]$/);
  });

  it("ends an open stream with a CANCELLED trailer frame after the messages so far, and resets the upstream", async () => {
    let resetCode: (code: number) => void = () => undefined;
    const reset = new Promise<number>((resolve) => (resetCode = resolve));
    const upstream = await rawUpstream((stream) => {
      stream.respond(OK_HEADERS);
      stream.write(encodeMessageFrame(Uint8Array.from([1])));
      stream.on("close", () => resetCode(stream.rstCode));
    });
    const { base, bridge } = await startBridge(upstream.address);
    const reply = await grpcWebCall(base, "/liver.v1.RetrainService/WatchModelVersions", new Uint8Array(), {
      onMessage: () => void bridge.close(),
    });
    expect(reply.messages.map((m) => [...m])).toEqual([[1]]);
    expect(reply.code).toBe(status.CANCELLED);
    expect(await reset).toBe(constants.NGHTTP2_CANCEL);
  });
});

describe("grpc-message of the bridge's own statuses", () => {
  it("escapes %, control characters and non-ASCII as UTF-8 bytes, and round-trips any text", () => {
    expect(encodeGrpcMessage("plain ascii: ok")).toBe("plain ascii: ok");
    expect(encodeGrpcMessage("50% – done\n")).toBe("50%25 %E2%80%93 done%0A");
    for (const text of ["ümlaut", "100%", "emoji 🚑", "tab\there"])
      expect(decodeURIComponent(encodeGrpcMessage(text))).toBe(text);
  });
});

describe("the retry of SubmitFeedback", () => {
  /** An upstream answering UNAVAILABLE `failures` times (trailers-only), then OK. */
  async function flaky(failures: number, code: number = status.UNAVAILABLE): Promise<Upstream> {
    const state = { streams: 0 };
    const upstream = await rawUpstream((stream, headers, body) => {
      state.streams = upstream.streams;
      if (upstream.streams <= failures) trailersOnly(stream, code);
      else answerOk(state)(stream, headers, body);
    });
    return upstream;
  }

  it("sends the buffered request again after UNAVAILABLE, and delivers only the answer", async () => {
    const upstream = await flaky(2);
    const reply = await grpcWebCall(await bridgeTo(upstream.address), SUBMIT, new Uint8Array());
    expect(reply.code).toBe(status.OK);
    expect(reply.messages.map((m) => [...m])).toEqual([[8, 3]]);
    expect(upstream.streams).toBe(3);
  });

  it("gives up after 4 attempts and reports the last UNAVAILABLE", async () => {
    const upstream = await flaky(10);
    const reply = await grpcWebCall(await bridgeTo(upstream.address), SUBMIT, new Uint8Array());
    expect(reply).toMatchObject({ code: status.UNAVAILABLE, message: "scripted" });
    expect(upstream.streams).toBe(4);
  });

  it("never retries another status, nor another method", async () => {
    const refused = await flaky(1, status.FAILED_PRECONDITION);
    expect((await grpcWebCall(await bridgeTo(refused.address), SUBMIT, new Uint8Array())).code).toBe(
      status.FAILED_PRECONDITION,
    );
    expect(refused.streams).toBe(1);
    const predict = await flaky(1);
    expect((await grpcWebCall(await bridgeTo(predict.address), PREDICT, new Uint8Array())).code).toBe(
      status.UNAVAILABLE,
    );
    expect(predict.streams).toBe(1);
  });

  it("retries a refused connection (the service restarting) until it is back within the deadline", async () => {
    const first = await rawUpstream(() => undefined);
    const port = Number(first.address.split(":")[1]);
    await stopUpstream(first);
    const base = await bridgeTo(first.address);
    const state = { streams: 0 };
    const pending = grpcWebCall(base, SUBMIT, new Uint8Array());
    setTimeout(() => void rawUpstream(answerOk(state), port), 300);
    expect((await pending).code).toBe(status.OK);
  });

  it("stops retrying once the throttle's tokens fall to half, and allows retries again after successes", () => {
    const throttle = new RetryThrottle();
    const allowed = Array.from({ length: 6 }, () => throttle.failed());
    expect(allowed).toEqual([true, true, true, true, false, false]);
    for (let i = 0; i < 30; i++) throttle.succeeded();
    expect(throttle.failed()).toBe(true);
  });
});

describe("bodies a stranger sends", () => {
  const predictFrame = encodeMessageFrame(Uint8Array.from([8, 45]));

  async function bridge(): Promise<{ base: string; upstream: Upstream }> {
    const state = { streams: 0 };
    const upstream = await rawUpstream(answerOk(state));
    return { base: await bridgeTo(upstream.address), upstream };
  }

  it("refuses a truncated frame, and trailing bytes after the frame, with INVALID_ARGUMENT", async () => {
    const { base, upstream } = await bridge();
    const binary = { "content-type": "application/grpc-web+proto" };
    const truncated = await post(base, predictFrame.subarray(0, 5), binary);
    expect(truncated.headers["grpc-status"]).toBe(String(status.INVALID_ARGUMENT));
    expect(truncated.message).toMatch(
      /exactly one message frame; got no whole frame in 5 bytes \(the first announces 2/,
    );
    const header = await post(base, predictFrame.subarray(0, 3), binary);
    expect(header.message).toMatch(/got no whole frame in 3 bytes/);
    const trailing = await post(base, Buffer.concat([predictFrame, Buffer.from([0])]), binary);
    expect(trailing.message).toMatch(/got more than one frame/);
    expect(upstream.streams).toBe(0);
  });

  it("refuses a frame announcing more than the limit with RESOURCE_EXHAUSTED before forwarding", async () => {
    const { base, upstream } = await bridge();
    const lying = Buffer.from(predictFrame);
    lying.writeUInt32BE(0xffff_ffff, 1);
    const reply = await post(base, lying, { "content-type": "application/grpc-web+proto" });
    expect(reply.headers["grpc-status"]).toBe(String(status.RESOURCE_EXHAUSTED));
    expect(reply.message).toMatch(/4294967295 bytes exceeds the gateway's limit of 4194304 bytes/);
    expect(upstream.streams).toBe(0);
  });

  it("refuses grpc-web-text that is not base64, saying where", async () => {
    const { base, upstream } = await bridge();
    const text = { "content-type": "application/grpc-web-text" };
    for (const [body, where] of [
      ["AAAAAAIILQ!=", /offset 10/],
      ["AAAAAAIILQ===", /a run of 13 characters/],
      ["AAAAA", /a run of 5 characters/],
      ["AA=A", /a run of 3 characters at offset 0/],
      ["AAAAAAIILQ======", /a run of 16 characters at offset 0/], // a whole frame, over-padded
    ] as const) {
      const reply = await post(base, body, text);
      expect(reply.headers["grpc-status"], body).toBe(String(status.INVALID_ARGUMENT));
      expect(reply.message, body).toMatch(/grpc-web-text body is not base64/);
      expect(reply.message, body).toMatch(where);
    }
    expect(upstream.streams).toBe(0);
  });

  it("decodes grpc-web-text of a million padded runs without an object per run", async () => {
    // A bridge of its own with 64 MB of heap: a Buffer and a string per "AA==" took ~250 MB.
    const child = spawn(
      process.execPath,
      ["--max-old-space-size=64", "--import", "tsx", "--input-type=module", "-e", SMALL_HEAP_BRIDGE],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    cleanups.push(() => void child.kill());
    const [port] = (await once(child.stdout, "data")) as [Buffer];
    const reply = await post(`http://127.0.0.1:${String(port).trim()}`, "AA==".repeat(1_398_000), {
      "content-type": "application/grpc-web-text",
    });
    expect(reply.headers["grpc-status"]).toBe(String(status.INVALID_ARGUMENT));
    expect(reply.message).toMatch(/got more than one frame in 1398000 bytes/);
  });

  it("accepts grpc-web-text in independently padded runs with line breaks, as clients may send", async () => {
    const { base } = await bridge();
    const b64 = Buffer.from(predictFrame).toString("base64"); // 7 bytes: "AAAAAAIILQ=="
    const split = `${Buffer.from(predictFrame.subarray(0, 4)).toString("base64")}\r\n${Buffer.from(predictFrame.subarray(4)).toString("base64")}`;
    for (const body of [b64, split]) {
      const reply = await post(base, body, { "content-type": "application/grpc-web-text" });
      expect(reply.status, body).toBe(200);
      expect(reply.headers["content-type"]).toBe("application/grpc-web-text+proto");
      expect(reply.headers["grpc-status"], body).toBeUndefined();
    }
  });

  it("answers a request without a content type 415 UNIMPLEMENTED, naming the accepted ones", async () => {
    const { base, upstream } = await bridge();
    const reply = await post(base, predictFrame, {});
    expect(reply.status).toBe(415);
    expect(reply.headers["grpc-status"]).toBe(String(status.UNIMPLEMENTED));
    expect(reply.message).toMatch(/content-type "" is not grpc-web; use one of application\/grpc-web/);
    expect(upstream.streams).toBe(0);
  });

  it("holds a body sent as millions of 1-byte chunks as its bytes, not an object per chunk", async () => {
    let heapAtUpstream = 0;
    const upstream = await rawUpstream((stream) => {
      heapAtUpstream = process.memoryUsage().heapUsed; // the bridge still holds what it read
      trailersOnly(stream, status.OK);
    });
    const base = await bridgeTo(upstream.address);
    const frame = encodeMessageFrame(new Uint8Array(3 * 1024 * 1024));
    const wire = Buffer.alloc(frame.length * 6);
    frame.forEach((byte, i) => wire.write(`1\r\n${String.fromCharCode(byte)}\r\n`, i * 6, "latin1"));
    const heapBefore = process.memoryUsage().heapUsed;
    const socket = connect(Number(new URL(base).port), "127.0.0.1");
    cleanups.push(() => void socket.destroy());
    socket.write(
      "POST /liver.v1.PredictService/Predict HTTP/1.1\r\nhost: 127.0.0.1\r\n" +
        "content-type: application/grpc-web+proto\r\ntransfer-encoding: chunked\r\n\r\n",
    );
    socket.write(wire);
    socket.write("0\r\n\r\n");
    const [answer] = (await once(socket, "data")) as [Buffer];
    expect(answer.toString("latin1")).toMatch(/^HTTP\/1\.1 200[^]*grpc-status: 0\r\n/);
    // 3 MiB of body; an object per chunk held about 190 bytes of heap per byte.
    expect(heapAtUpstream - heapBefore).toBeLessThan(128 * 1024 * 1024);
  });

  it("refuses a 10 MB body with RESOURCE_EXHAUSTED and closes the connection", async () => {
    const { base, upstream } = await bridge();
    const big = Buffer.alloc(10 * 1024 * 1024);
    big.writeUInt32BE(big.length - 5, 1);
    for (const contentType of ["application/grpc-web+proto", "application/grpc-web-text"]) {
      const reply = await post(base, contentType.endsWith("text") ? big.toString("base64") : big, {
        "content-type": contentType,
      });
      expect(reply.headers["grpc-status"], contentType).toBe(String(status.RESOURCE_EXHAUSTED));
      expect(reply.headers.connection).toBe("close");
      expect(reply.message).toMatch(/limit of 4194304 bytes/);
    }
    expect(upstream.streams).toBe(0);
  });
});
