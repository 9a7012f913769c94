import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { type RequestOptions, request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { Metadata, Server, status } from "@grpc/grpc-js";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GetModelInfoResponse,
  PredictBatchResponse,
  PredictRequest,
  PredictResponse,
  PredictServiceService,
  type PredictServiceServer,
} from "../../services/gen/liver/v1/predict_service.js";
import {
  GetRetrainStatusRequest,
  GetRetrainStatusResponse,
  ListModelVersionsResponse,
  RetrainServiceService,
  SubmitFeedbackResponse,
  TriggerRetrainRequest,
  TriggerRetrainResponse,
  WatchModelVersionsRequest,
  WatchModelVersionsResponse,
  type RetrainServiceServer,
} from "../../services/gen/liver/v1/retrain_service.js";
import { testScheme, testServerCredentials } from "../../services/shared/testing/test-tls.js";
import { encodeMessageFrame, grpcWebCall } from "./testing/grpc-web-fetch-client.js";
import { TestGrpcWebBridge } from "./testing/test-bridge.js";

// Fake handlers: this tests the bridge, so the upstreams only have to behave like gRPC
// servers of the generated definitions. Special inputs select a behaviour:
//   Predict age -1: INVALID_ARGUMENT before any message; age 999: never answers.
//   WatchModelVersions after_version "": 3 events then OK; "fail": 1 event then UNAVAILABLE;
//   "hang": 1 event then waits; "big": 40 events of 100 KB.

const PREDICT = "/liver.v1.PredictService/Predict";
// Raw HTTP/1.1 requests to the bridge: HTTPS in the "tls" project (the bridge serves HTTPS there).
const request: typeof httpRequest = testScheme() === "https" ? httpsRequest : httpRequest;
const WATCH = "/liver.v1.RetrainService/WatchModelVersions";

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const seenMetadata: Metadata[] = [];
const hungPredictCancelled = deferred();
const hungStreamCancelled = deferred();
let adminCalls = 0;

function predictHandlers(name: string): PredictServiceServer {
  return {
    predict(call, callback) {
      seenMetadata.push(call.metadata);
      const age = call.request.patient?.age ?? 0;
      if (age === -1) {
        const trailer = new Metadata();
        trailer.set("x-served-by", name);
        callback({
          code: status.INVALID_ARGUMENT,
          details: "age: -1 is outside 4 to 90 years – fix it",
          metadata: trailer,
        });
        return;
      }
      if (age === 999) {
        call.on("cancelled", () => hungPredictCancelled.resolve());
        return;
      }
      const initial = new Metadata();
      initial.set("x-echo", String(call.metadata.get("x-request-id")[0] ?? "none"));
      call.sendMetadata(initial);
      const trailer = new Metadata();
      trailer.set("x-served-by", name);
      callback(
        null,
        PredictResponse.fromPartial({
          probability: age / 100,
          modelVersion: name,
          predictionId: `id-${age}`,
        }),
        trailer,
      );
    },
    predictBatch(_call, callback) {
      callback(null, PredictBatchResponse.fromPartial({}));
    },
    getModelInfo(_call, callback) {
      callback(null, GetModelInfoResponse.fromPartial({ modelVersion: name }));
    },
  };
}

const event = (modelVersion: string, sha256 = ""): WatchModelVersionsResponse =>
  WatchModelVersionsResponse.fromPartial({ modelVersion, sha256 });

const retrainHandlers: RetrainServiceServer = {
  watchModelVersions(call) {
    const after = call.request.afterVersion;
    if (after === "") {
      for (const v of ["v1", "v2", "v3"]) call.write(event(v));
      call.end();
    } else if (after === "fail") {
      call.write(event("v1"));
      call.emit("error", { code: status.UNAVAILABLE, details: "registry closed – retry" });
    } else if (after === "hang") {
      call.on("cancelled", () => hungStreamCancelled.resolve());
      call.write(event("v1"));
    } else if (after === "big") {
      for (let i = 0; i < 40; i++) call.write(event(`v${i}`, String(i % 10).repeat(100_000)));
      call.end();
    }
  },
  getRetrainStatus(_call, callback) {
    callback(null, GetRetrainStatusResponse.fromPartial({ modelVersion: "v7", originalRows: 583 }));
  },
  submitFeedback(_call, callback) {
    callback(null, SubmitFeedbackResponse.fromPartial({ feedbackId: "f1" }));
  },
  listModelVersions(_call, callback) {
    callback(null, ListModelVersionsResponse.fromPartial({ modelVersion: "v7" }));
  },
  getModelArtifact(_call, callback) {
    callback({ code: status.NOT_FOUND, details: "no artifacts in this fake" });
  },
  triggerRetrain(_call, callback) {
    adminCalls++;
    callback(null, TriggerRetrainResponse.fromPartial({ scheduled: true }));
  },
  rollbackModel(_call, callback) {
    adminCalls++;
    callback({ code: status.FAILED_PRECONDITION, details: "fake" });
  },
  listFeedback(_call, callback) {
    adminCalls++;
    callback({ code: status.FAILED_PRECONDITION, details: "fake" });
  },
  excludeFeedback(_call, callback) {
    adminCalls++;
    callback({ code: status.FAILED_PRECONDITION, details: "fake" });
  },
  releaseFeedback(_call, callback) {
    adminCalls++;
    callback({ code: status.FAILED_PRECONDITION, details: "fake" });
  },
  listFeedbackAudit(_call, callback) {
    adminCalls++;
    callback({ code: status.FAILED_PRECONDITION, details: "fake" });
  },
  approveModelVersion(_call, callback) {
    adminCalls++;
    callback({ code: status.FAILED_PRECONDITION, details: "fake" });
  },
  rejectModelVersion(_call, callback) {
    adminCalls++;
    callback({ code: status.FAILED_PRECONDITION, details: "fake" });
  },
};

async function startServer(register: (server: Server) => void): Promise<{ server: Server; address: string }> {
  const server = new Server();
  register(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", testServerCredentials(), (error, p) =>
      error === null ? resolve(p) : reject(error),
    );
  });
  return { server, address: `127.0.0.1:${port}` };
}

const predictRequest = (age: number): Uint8Array =>
  PredictRequest.encode(PredictRequest.fromPartial({ patient: { age } })).finish();
const watchRequest = (afterVersion: string): Uint8Array =>
  WatchModelVersionsRequest.encode({ afterVersion }).finish();

const ORIGIN = "https://liver.example.org";
let servers: Server[] = [];
let bridge: TestGrpcWebBridge;
let base: string;
let webRoot: string;
let tempDir: string;

beforeAll(async () => {
  const p0 = await startServer((s) => s.addService(PredictServiceService, predictHandlers("p0")));
  const p1 = await startServer((s) => s.addService(PredictServiceService, predictHandlers("p1")));
  const retrain = await startServer((s) => s.addService(RetrainServiceService, retrainHandlers));
  servers = [p0.server, p1.server, retrain.server];

  tempDir = await mkdtemp(path.join(tmpdir(), "bridge-test-"));
  webRoot = path.join(tempDir, "dist");
  await mkdir(path.join(webRoot, "assets"), { recursive: true });
  await writeFile(path.join(webRoot, "index.html"), "<!doctype html><title>Liver</title>");
  await writeFile(path.join(webRoot, "assets", "app.js"), "console.log('ui');");
  await writeFile(path.join(webRoot, "assets", "style.css"), "body{}");
  await writeFile(path.join(tempDir, "secret.txt"), "TOP SECRET");
  await symlink(path.join(tempDir, "secret.txt"), path.join(webRoot, "link-out.txt"));

  bridge = new TestGrpcWebBridge({
    predictAddresses: [p0.address, p1.address],
    retrainAddress: retrain.address,
    corsOrigins: [ORIGIN],
    webRoot,
    logger: pino({ level: "silent" }),
  });
  const { port } = await bridge.listen(0, "127.0.0.1");
  base = TestGrpcWebBridge.url(port);
});

afterAll(async () => {
  await bridge.close();
  for (const s of servers) s.forceShutdown();
  await rm(tempDir, { recursive: true, force: true });
});

describe("GrpcWebBridge unary calls", () => {
  it("forwards a unary call as bytes and returns headers, message and trailers", async () => {
    const reply = await grpcWebCall(base, PREDICT, predictRequest(42), {
      headers: { "x-request-id": "req-1" },
    });
    expect(reply.httpStatus).toBe(200);
    expect(reply.headers.get("content-type")).toBe("application/grpc-web+proto");
    expect(reply.code).toBe(status.OK);
    expect(reply.trailersOnly).toBe(false);
    expect(reply.messages).toHaveLength(1);
    const response = PredictResponse.decode(reply.messages[0] ?? new Uint8Array(0));
    expect(response.probability).toBeCloseTo(0.42);
    expect(response.predictionId).toBe("id-42");
    expect(reply.headers.get("x-echo")).toBe("req-1");
    expect(reply.trailers).toContainEqual(["x-served-by", response.modelVersion]);
  });

  it("forwards call metadata but not HTTP-only headers", async () => {
    seenMetadata.length = 0;
    await grpcWebCall(base, PREDICT, predictRequest(1), {
      headers: { "x-request-id": "req-2", cookie: "session=1", "x-user-agent": "grpc-web-javascript/0.1" },
    });
    const md = seenMetadata[0];
    expect(md?.get("x-request-id")).toEqual(["req-2"]);
    expect(md?.get("cookie")).toEqual([]);
    expect(md?.get("x-user-agent")).toEqual([]);
    expect(md?.get("x-grpc-web")).toEqual([]);
  });

  it("sends a unary answer as one body with a content-length: message frame, then trailer frame", async () => {
    const reply = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
      const req = request(
        base + PREDICT,
        { method: "POST", headers: { "content-type": "application/grpc-web+proto" } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        },
      );
      req.on("error", reject);
      req.end(encodeMessageFrame(predictRequest(30)));
    });
    expect(reply.headers["transfer-encoding"]).toBeUndefined();
    expect(reply.headers["content-length"]).toBe(String(reply.body.length));
    const length = reply.body.readUInt32BE(1);
    expect(reply.body[0]).toBe(0x00);
    expect(PredictResponse.decode(reply.body.subarray(5, 5 + length)).predictionId).toBe("id-30");
    const trailer = reply.body.subarray(5 + length);
    expect(trailer[0]).toBe(0x80);
    expect(trailer.readUInt32BE(1)).toBe(trailer.length - 5);
    expect(trailer.subarray(5).toString("latin1")).toMatch(/^grpc-status:0\r\n/);
  });

  it("refuses a metadata header gRPC cannot carry with INVALID_ARGUMENT, naming it", async () => {
    const reply = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const req = request(
        base + PREDICT,
        { method: "POST", headers: { "content-type": "application/grpc-web+proto", "x-note": "caf\u00e9" } },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.headers));
        },
      );
      req.on("error", reject);
      req.end(encodeMessageFrame(predictRequest(30)));
    });
    expect(reply["grpc-status"]).toBe(String(status.INVALID_ARGUMENT));
    expect(decodeURIComponent(String(reply["grpc-message"]))).toMatch(/header x-note is not printable ASCII/);
  });

  it("answers an error before any message as trailers-only, message percent-decoded", async () => {
    const reply = await grpcWebCall(base, PREDICT, predictRequest(-1));
    expect(reply.httpStatus).toBe(200);
    expect(reply.trailersOnly).toBe(true);
    expect(reply.code).toBe(status.INVALID_ARGUMENT);
    expect(reply.message).toBe("age: -1 is outside 4 to 90 years – fix it");
    expect(reply.headers.get("grpc-message")).toContain("%E2%80%93");
    expect(reply.headers.get("x-served-by")).toMatch(/^p[01]$/);
    expect(reply.messages).toEqual([]);
  });

  it("turns grpc-timeout into the call deadline and cancels the upstream at expiry", async () => {
    const reply = await grpcWebCall(base, PREDICT, predictRequest(999), {
      headers: { "grpc-timeout": "100m" },
    });
    expect(reply.code).toBe(status.DEADLINE_EXCEEDED);
    expect(reply.trailersOnly).toBe(true);
    await hungPredictCancelled.promise;
  });

  it("refuses a malformed grpc-timeout naming the syntax", async () => {
    const reply = await grpcWebCall(base, PREDICT, predictRequest(1), {
      headers: { "grpc-timeout": "5 seconds" },
    });
    expect(reply.code).toBe(status.INVALID_ARGUMENT);
    expect(reply.message).toMatch(/grpc-timeout "5 seconds" is not 1 to 8 digits/);
  });

  it("balances Predict calls round robin over the replicas", async () => {
    const versions: string[] = [];
    for (let i = 0; i < 6; i++) {
      const reply = await grpcWebCall(base, PREDICT, predictRequest(i));
      versions.push(PredictResponse.decode(reply.messages[0] ?? new Uint8Array(0)).modelVersion);
    }
    expect(new Set(versions)).toEqual(new Set(["p0", "p1"]));
    for (let i = 1; i < versions.length; i++) expect(versions[i]).not.toBe(versions[i - 1]);
  });

  it("routes Retrain methods to the Retrain service", async () => {
    const reply = await grpcWebCall(
      base,
      "/liver.v1.RetrainService/GetRetrainStatus",
      GetRetrainStatusRequest.encode({}).finish(),
    );
    const response = GetRetrainStatusResponse.decode(reply.messages[0] ?? new Uint8Array(0));
    expect(response.modelVersion).toBe("v7");
    expect(response.originalRows).toBe(583);
  });

  it("speaks grpc-web-text (base64) in both directions", async () => {
    const reply = await grpcWebCall(base, PREDICT, predictRequest(7), { text: true });
    expect(reply.headers.get("content-type")).toBe("application/grpc-web-text+proto");
    expect(reply.code).toBe(status.OK);
    expect(PredictResponse.decode(reply.messages[0] ?? new Uint8Array(0)).predictionId).toBe("id-7");
  });
});

describe("GrpcWebBridge server streams", () => {
  it("relays every message, then the OK trailer frame", async () => {
    const seen: string[] = [];
    const reply = await grpcWebCall(base, WATCH, watchRequest(""), {
      onMessage: (m) => seen.push(WatchModelVersionsResponse.decode(m).modelVersion),
    });
    expect(seen).toEqual(["v1", "v2", "v3"]);
    expect(reply.code).toBe(status.OK);
    expect(reply.trailersOnly).toBe(false);
  });

  it("ends with an error trailer frame when the stream fails after a message", async () => {
    const reply = await grpcWebCall(base, WATCH, watchRequest("fail"));
    expect(reply.messages.map((m) => WatchModelVersionsResponse.decode(m).modelVersion)).toEqual(["v1"]);
    expect(reply.trailersOnly).toBe(false);
    expect(reply.code).toBe(status.UNAVAILABLE);
    expect(reply.message).toBe("registry closed – retry");
  });

  it("relays a large stream intact, in text mode too", async () => {
    for (const text of [false, true]) {
      const reply = await grpcWebCall(base, WATCH, watchRequest("big"), { text });
      expect(reply.code).toBe(status.OK);
      const events = reply.messages.map((m) => WatchModelVersionsResponse.decode(m));
      expect(events).toHaveLength(40);
      events.forEach((e, i) => {
        expect(e.modelVersion).toBe(`v${i}`);
        expect(e.sha256).toBe(String(i % 10).repeat(100_000));
      });
    }
  });

  it("flushes each message as it arrives and cancels the upstream when the client aborts", async () => {
    const abort = new AbortController();
    const first = grpcWebCall(base, WATCH, watchRequest("hang"), {
      signal: abort.signal,
      // The upstream sent one event and waits: receiving it proves per-message flushing.
      onMessage: () => abort.abort(),
    });
    await expect(first).rejects.toThrow();
    await hungStreamCancelled.promise;
  });
});

describe("GrpcWebBridge refusals", () => {
  it("answers admin and internal paths 404 UNIMPLEMENTED without calling upstream", async () => {
    const before = adminCalls;
    for (const p of [
      "/liver.v1.RetrainService/TriggerRetrain",
      "/liver.v1.RetrainService/RollbackModel",
      "/liver.v1.RetrainService/GetModelArtifact",
      "/liver.v1.RetrainService/ListFeedback",
      "/liver.v1.RetrainService/ExcludeFeedback",
      "/liver.v1.RetrainService/ReleaseFeedback",
      "/liver.v1.RetrainService/ListFeedbackAudit",
      "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    ]) {
      const reply = await grpcWebCall(base, p, TriggerRetrainRequest.encode({ reason: "x" }).finish());
      expect(reply.httpStatus, p).toBe(404);
      expect(reply.code, p).toBe(status.UNIMPLEMENTED);
      expect(reply.message).toContain("not a public method");
    }
    expect(adminCalls).toBe(before);
  });

  it("refuses the admin-only approval methods without sign-in, and never calls upstream", async () => {
    const before = adminCalls;
    for (const p of [
      "/liver.v1.RetrainService/ApproveModelVersion",
      "/liver.v1.RetrainService/RejectModelVersion",
    ]) {
      const reply = await grpcWebCall(base, p, TriggerRetrainRequest.encode({ reason: "x" }).finish(), {
        headers: { authorization: "Bearer break-glass-admin-token-0123456789" },
      });
      expect(reply.code, p).toBe(status.PERMISSION_DENIED);
      expect(reply.message).toMatch(
        /needs sign-in \(AUTH_ISSUER\) and the admin role; without sign-in, call RetrainService with grpcurl/,
      );
    }
    expect(adminCalls).toBe(before);
  });

  it("refuses request messages over 4 MiB with RESOURCE_EXHAUSTED", async () => {
    const reply = await grpcWebCall(base, PREDICT, new Uint8Array(4 * 1024 * 1024 + 1));
    expect(reply.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(reply.message).toMatch(/limit of 4194304 bytes/);
  });

  it("refuses an oversize chunked upload without waiting for its end", async () => {
    const chunk = new Uint8Array(1024 * 1024);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 6) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const init: RequestInit & { duplex: "half" } = {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto" },
      body,
      duplex: "half",
    };
    const response = await fetch(base + PREDICT, init);
    expect(response.headers.get("grpc-status")).toBe(String(status.RESOURCE_EXHAUSTED));
  });

  it("refuses bodies that are not exactly one message frame", async () => {
    const frame = encodeMessageFrame(predictRequest(1));
    const twoFrames = new Uint8Array([...frame, ...frame]);
    const response = await fetch(base + PREDICT, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto" },
      body: twoFrames,
    });
    expect(response.headers.get("grpc-status")).toBe(String(status.INVALID_ARGUMENT));
    expect(decodeURIComponent(response.headers.get("grpc-message") ?? "")).toMatch(
      /exactly one message frame; got more than one frame/,
    );
  });

  it("refuses content types other than grpc-web with 415", async () => {
    const response = await fetch(base + PREDICT, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(response.status).toBe(415);
    expect(response.headers.get("grpc-status")).toBe(String(status.UNIMPLEMENTED));
  });
});

describe("GrpcWebBridge CORS", () => {
  it("answers a preflight from an allowed origin", async () => {
    const response = await fetch(base + PREDICT, {
      method: "OPTIONS",
      headers: {
        origin: ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,x-grpc-web,grpc-timeout",
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(response.headers.get("access-control-allow-methods")).toContain("POST");
    const allowed = response.headers.get("access-control-allow-headers") ?? "";
    for (const h of ["content-type", "x-grpc-web", "x-user-agent", "grpc-timeout"])
      expect(allowed).toContain(h);
    expect(allowed).not.toContain("authorization");
  });

  it("refuses a preflight from another origin and for non-public paths", async () => {
    const evil = await fetch(base + PREDICT, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example" },
    });
    expect(evil.status).toBe(403);
    expect(evil.headers.get("access-control-allow-origin")).toBeNull();
    const admin = await fetch(base + "/liver.v1.RetrainService/TriggerRetrain", {
      method: "OPTIONS",
      headers: { origin: ORIGIN },
    });
    expect(admin.status).toBe(404);
    expect(admin.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("lets an allowed origin read grpc-status and grpc-message, and no other origin", async () => {
    const allowed = await grpcWebCall(base, PREDICT, predictRequest(-1), { headers: { origin: ORIGIN } });
    expect(allowed.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(allowed.headers.get("access-control-expose-headers")).toBe("grpc-status, grpc-message");
    const other = await grpcWebCall(base, PREDICT, predictRequest(2), {
      headers: { origin: "https://evil.example" },
    });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });
});

/** A GET with the path sent exactly as written (fetch would normalize ".."), and an optional Host. */
function rawGet(rawPath: string, host?: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = host === undefined ? {} : { host };
    // Over TLS the certificate is checked against the Host header unless a name is given.
    const options = { path: rawPath, headers, servername: "localhost" } as RequestOptions;
    const req = request(`${base}/`, options, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"] ?? "", body }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("GrpcWebBridge on a loopback address", () => {
  it("answers requests addressed to a loopback name only, so a DNS-rebinding page gets nothing", async () => {
    const port = new URL(base).port;
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, "LOCALHOST"]) {
      expect((await rawGet("/", host)).status, host).toBe(200);
    }
    for (const host of [`evil.example:${port}`, "127.0.0.1.evil.example", "localhost.", "[::2]"]) {
      const refused = await rawGet("/", host);
      expect(refused.status, host).toBe(421);
      expect(refused.body).toContain("answers only requests addressed to localhost, 127.0.0.1 or [::1]");
    }
    // The same for a grpc-web call: no prediction for another site's page.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        new URL(PREDICT, base),
        {
          method: "POST",
          headers: { host: "evil.example", "content-type": "application/grpc-web+proto" },
          servername: "localhost",
        } as RequestOptions,
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end(Buffer.alloc(5));
    });
    expect(status).toBe(421);
  });
});

describe("GrpcWebBridge static files", () => {
  it("serves index.html at / and files with their content types", async () => {
    expect(await rawGet("/")).toMatchObject({ status: 200, type: "text/html; charset=utf-8" });
    expect((await rawGet("/")).body).toContain("<title>Liver</title>");
    expect(await rawGet("/assets/app.js?v=1")).toMatchObject({
      status: 200,
      type: "text/javascript; charset=utf-8",
    });
    expect(await rawGet("/assets/style.css")).toMatchObject({ status: 200, type: "text/css; charset=utf-8" });
    expect(await rawGet("/assets/")).toMatchObject({ status: 404 });
    expect(await rawGet("/missing.js")).toMatchObject({ status: 404 });
  });

  it("never serves anything outside the web root", async () => {
    for (const p of [
      "/../secret.txt",
      "/assets/../../secret.txt",
      "/%2e%2e/secret.txt",
      "/..%2fsecret.txt",
      "/..%5csecret.txt",
      "/link-out.txt",
      `/${encodeURIComponent(path.join(tempDir, "secret.txt"))}`,
    ]) {
      const reply = await rawGet(p);
      expect([403, 404], p).toContain(reply.status);
      expect(reply.body, p).not.toContain("TOP SECRET");
    }
    expect((await rawGet("/%E0%A4%A")).status).toBe(400);
    expect((await rawGet("/%00index.html")).status).toBe(400);
  });
});
