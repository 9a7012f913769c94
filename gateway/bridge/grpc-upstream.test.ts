import { once } from "node:events";
import {
  constants,
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from "node:http2";
import type { AddressInfo } from "node:net";
import { Metadata, Server, status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import {
  GetModelInfoResponse,
  PredictRequest,
  PredictResponse,
  PredictServiceService,
  type PredictServiceServer,
} from "../../services/gen/liver/v1/predict_service.js";
import { testServerCredentials, testTlsMaterial } from "../../services/shared/testing/test-tls.js";
import { encodeFrame, encodeMessageFrame } from "../grpc-web-framing.js";
import { GrpcUpstream, type UpstreamRequest, type UpstreamStatus } from "./grpc-upstream.js";

// The upstream client against a real grpc-js server (what the bridge talks to) and against
// raw HTTP/2 servers that misbehave on purpose (what a gRPC client must survive); all of them
// over mTLS in the "tls" vitest project (services/shared/testing/test-tls.ts).

const PREDICT = "/liver.v1.PredictService/Predict";

const predictFrame = (age: number): Uint8Array =>
  encodeMessageFrame(PredictRequest.encode(PredictRequest.fromPartial({ patient: { age } })).finish());

interface Outcome {
  readonly metadata: [string, string][] | undefined;
  readonly messages: Uint8Array[];
  readonly status: UpstreamStatus;
}

/** Runs one call to the end. */
function call(upstream: GrpcUpstream, request: Partial<UpstreamRequest> = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    let metadata: [string, string][] | undefined;
    const messages: Uint8Array[] = [];
    upstream.call(
      {
        path: PREDICT,
        metadata: {},
        frame: predictFrame(45),
        timeoutMs: 5_000,
        ...request,
      },
      {
        onMetadata: (m) => (metadata = m),
        onMessage: (m) => messages.push(m),
        onStatus: (s) => resolve({ metadata, messages, status: s }),
      },
    );
  });
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function grpcServer(port = 0): Promise<{ server: Server; port: number }> {
  const handlers: PredictServiceServer = {
    predict(call, callback) {
      const age = call.request.patient?.age ?? 0;
      if (age === 999) return; // never answers
      const initial = new Metadata();
      initial.set("x-echo", String(call.metadata.get("x-request-id")[0] ?? "none"));
      call.sendMetadata(initial);
      const trailer = new Metadata();
      trailer.set("x-served-by", "p0");
      callback(null, PredictResponse.fromPartial({ probability: 0.25, modelVersion: "v1" }), trailer);
    },
    predictBatch(_call, callback) {
      callback({ code: status.UNIMPLEMENTED, details: "not here" });
    },
    getModelInfo(_call, callback) {
      callback(null, GetModelInfoResponse.fromPartial({ modelVersion: "v1" }));
    },
  };
  const server = new Server();
  server.addService(PredictServiceService, handlers);
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, testServerCredentials(), (error, p) =>
      error === null ? resolve(p) : reject(error),
    );
  });
  cleanups.push(() => server.forceShutdown());
  return { server, port: bound };
}

/** A raw HTTP/2 server; `handle` answers each stream however the test needs. */
async function rawServer(
  handle: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, body: Buffer) => void,
): Promise<{ server: Http2Server | Http2SecureServer; address: string }> {
  const onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => handle(stream, headers, Buffer.concat(chunks)));
    stream.on("error", () => undefined);
  };
  const sessions = new Set<ServerHttp2Session>();
  const onSession = (s: ServerHttp2Session): void => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  };
  const tls = testTlsMaterial("server");
  let server: Http2Server | Http2SecureServer;
  if (tls === undefined) {
    const plain = createServer();
    plain.on("stream", onStream).on("session", onSession);
    server = plain;
  } else {
    const secure = createSecureServer({ ...tls, requestCert: true, rejectUnauthorized: true });
    secure.on("stream", onStream).on("session", onSession);
    server = secure;
  }
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  cleanups.push(() => {
    for (const s of sessions) s.destroy();
  });
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function upstreamFor(address: string, maxReceiveBytes?: number): GrpcUpstream {
  const tls = testTlsMaterial("client");
  const upstream = new GrpcUpstream(address, maxReceiveBytes, tls === undefined ? undefined : () => tls);
  cleanups.push(() => upstream.close());
  return upstream;
}

const ok = { ":status": 200, "content-type": "application/grpc" };

describe("GrpcUpstream against a grpc-js server", () => {
  it("returns metadata, the message bytes and the status with trailing metadata", async () => {
    const { port } = await grpcServer();
    const upstream = upstreamFor(`127.0.0.1:${port}`);
    const outcome = await call(upstream, {
      metadata: { "x-request-id": "r-7" },
      frame: predictFrame(45),
    });
    expect(outcome.status.code).toBe(status.OK);
    expect(outcome.metadata).toContainEqual(["x-echo", "r-7"]);
    expect(outcome.status.metadata).toContainEqual(["x-served-by", "p0"]);
    expect(outcome.messages).toHaveLength(1);
    expect(PredictResponse.decode(outcome.messages[0] ?? new Uint8Array(0)).probability).toBeCloseTo(0.25);
  });

  it("answers UNAVAILABLE naming the address while the server is down, and reconnects once it is back", async () => {
    const first = await grpcServer();
    const upstream = upstreamFor(`127.0.0.1:${first.port}`);
    expect((await call(upstream)).status.code).toBe(status.OK);
    first.server.forceShutdown();
    const down = await call(upstream);
    expect(down.status.code).toBe(status.UNAVAILABLE);
    expect(down.status.details).toContain(`127.0.0.1:${first.port}`);
    await grpcServer(first.port);
    expect((await call(upstream)).status.code).toBe(status.OK);
  });

  it("enforces the deadline itself and resets the stream", async () => {
    const { port } = await grpcServer();
    const upstream = upstreamFor(`127.0.0.1:${port}`);
    // The server never answers age 999: only the bridge's own deadline can end this call.
    const outcome = await call(upstream, {
      frame: predictFrame(999),
      timeoutMs: 50,
    });
    expect(outcome.status.code).toBe(status.DEADLINE_EXCEEDED);
  });

  it("ends calls after close() with UNAVAILABLE, reported after call() returned", async () => {
    const { port } = await grpcServer();
    const upstream = upstreamFor(`127.0.0.1:${port}`);
    upstream.close();
    let returned = false;
    const outcome = new Promise<UpstreamStatus>((resolve) => {
      upstream.call(
        { path: PREDICT, metadata: {}, frame: predictFrame(1), timeoutMs: 1_000 },
        {
          onMetadata: () => undefined,
          onMessage: () => undefined,
          onStatus: (s) => {
            expect(returned).toBe(true);
            resolve(s);
          },
        },
      );
      returned = true;
    });
    const result = await outcome;
    expect(result.code).toBe(status.UNAVAILABLE);
    expect(result.details).toMatch(/closed its connection/);
  });
});

describe("GrpcUpstream on the wire", () => {
  it("sends a gRPC request: path, content type, te, grpc-timeout, metadata and the frame as is", async () => {
    let seen: { headers: IncomingHttpHeaders; body: Buffer } | undefined;
    const { address } = await rawServer((stream, headers, body) => {
      seen = { headers, body };
      stream.respond(ok, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end();
    });
    const frame = encodeMessageFrame(Uint8Array.from([8, 45]));
    const outcome = await call(upstreamFor(address), {
      frame,
      metadata: { "x-request-id": "abc" },
      timeoutMs: 2_500,
    });
    expect(outcome.status.code).toBe(status.OK);
    expect(seen?.headers[":path"]).toBe(PREDICT);
    expect(seen?.headers[":method"]).toBe("POST");
    expect(seen?.headers["content-type"]).toBe("application/grpc");
    expect(seen?.headers.te).toBe("trailers");
    expect(seen?.headers["x-request-id"]).toBe("abc");
    expect(seen?.headers["grpc-timeout"]).toMatch(/^(2[45]\d\d)m$/);
    expect(seen?.body).toEqual(Buffer.from(frame));
  });

  it("reads a trailers-only answer's status and decodes grpc-message", async () => {
    const { address } = await rawServer((stream) => {
      stream.respond(
        { ...ok, "grpc-status": "3", "grpc-message": "age%3A 200 is outside 4 to 90", "x-why": "range" },
        { endStream: true },
      );
    });
    const outcome = await call(upstreamFor(address));
    expect(outcome.metadata).toBeUndefined();
    expect(outcome.status.code).toBe(status.INVALID_ARGUMENT);
    expect(outcome.status.details).toBe("age: 200 is outside 4 to 90");
    expect(outcome.status.metadata).toContainEqual(["x-why", "range"]);
    expect(outcome.status.metadata.map(([name]) => name)).not.toContain("grpc-status");
    expect(outcome.status.metadata.map(([name]) => name)).not.toContain("grpc-message");
  });

  it("maps HTTP errors without grpc-status as gRPC clients do", async () => {
    for (const [httpStatus, code] of [
      [404, status.UNIMPLEMENTED],
      [503, status.UNAVAILABLE],
      [500, status.UNKNOWN],
    ] as const) {
      const { address } = await rawServer((stream) => {
        stream.respond({ ":status": httpStatus, "content-type": "text/html" });
        stream.end("<html>proxy error</html>");
      });
      const outcome = await call(upstreamFor(address));
      expect(outcome.status.code, String(httpStatus)).toBe(code);
      expect(outcome.status.details).toBe(`Received HTTP status code ${httpStatus}`);
    }
  });

  it("refuses a response message over the receive limit with RESOURCE_EXHAUSTED", async () => {
    const { address } = await rawServer((stream) => {
      stream.respond(ok);
      stream.end(encodeMessageFrame(new Uint8Array(2_000)));
    });
    const outcome = await call(upstreamFor(address, 1_000));
    expect(outcome.status.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(outcome.status.details).toMatch(/2000 bytes exceeds the limit of 1000 bytes/);
    expect(outcome.messages).toEqual([]);
  });

  it("refuses compressed messages, since it asked for identity only", async () => {
    let accepted: unknown;
    const { address } = await rawServer((stream, headers) => {
      accepted = headers["grpc-accept-encoding"];
      stream.respond(ok);
      stream.end(encodeFrame(0x01, Uint8Array.from([1, 2, 3])));
    });
    const outcome = await call(upstreamFor(address));
    expect(accepted).toBe("identity");
    expect(outcome.status.code).toBe(status.INTERNAL);
    expect(outcome.status.details).toMatch(/compressed/);
  });

  it("reports a stream that ends without trailers as INTERNAL", async () => {
    const { address } = await rawServer((stream) => {
      stream.respond(ok);
      stream.end(encodeMessageFrame(Uint8Array.from([1])));
    });
    const outcome = await call(upstreamFor(address));
    expect(outcome.status.code).toBe(status.INTERNAL);
    expect(outcome.status.details).toMatch(/without gRPC status/);
  });

  it("sends a stream the server refused once more, and gives up with UNAVAILABLE after a second refusal", async () => {
    let streams = 0;
    const { address } = await rawServer((stream) => {
      streams++;
      if (streams === 1 || streams >= 3) {
        stream.close(constants.NGHTTP2_REFUSED_STREAM);
        return;
      }
      stream.respond(ok, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(encodeMessageFrame(Uint8Array.from([7])));
    });
    const upstream = upstreamFor(address);
    const retried = await call(upstream);
    expect(retried.status.code).toBe(status.OK);
    expect(retried.messages.map((m) => [...m])).toEqual([[7]]);
    expect(streams).toBe(2);
    const refused = await call(upstream);
    expect(refused.status.code).toBe(status.UNAVAILABLE);
    expect(refused.status.details).toBe("Stream refused by server");
    expect(streams).toBe(4);
  });

  it("opens a new connection after the server says GOAWAY", async () => {
    const sessions = new Set<unknown>();
    const { server, address } = await rawServer((stream) => {
      sessions.add(stream.session);
      stream.respond(ok, { waitForTrailers: true });
      stream.on("wantTrailers", () => {
        stream.sendTrailers({ "grpc-status": "0" });
        // Graceful goodbye after the answer, as a server does when it drains.
        stream.session?.goaway(constants.NGHTTP2_NO_ERROR);
      });
      stream.end(encodeMessageFrame(Uint8Array.from([1])));
    });
    const upstream = upstreamFor(address);
    for (let i = 0; i < 3; i++) expect((await call(upstream)).status.code).toBe(status.OK);
    expect(sessions.size).toBe(3);
    expect(server.listening).toBe(true);
  });

  it("cancels: CANCELLED to the caller, RST_STREAM CANCEL to the server", async () => {
    let resetCode: (code: number) => void = () => undefined;
    const reset = new Promise<number>((resolve) => (resetCode = resolve));
    const { address } = await rawServer((stream) => {
      stream.respond(ok);
      stream.write(encodeMessageFrame(Uint8Array.from([1])));
      stream.on("close", () => resetCode(stream.rstCode));
    });
    const statuses: UpstreamStatus[] = [];
    const running = upstreamFor(address).call(
      { path: PREDICT, metadata: {}, frame: predictFrame(1), timeoutMs: Infinity },
      {
        onMetadata: () => undefined,
        onMessage: () => running.cancel(),
        onStatus: (s) => statuses.push(s),
      },
    );
    expect(await reset).toBe(constants.NGHTTP2_CANCEL);
    await expect.poll(() => statuses.map((s) => s.code)).toEqual([status.CANCELLED]);
  });
});
