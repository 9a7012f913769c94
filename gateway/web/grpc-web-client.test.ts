import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PredictRequest, PredictResponse } from "./src/gen/liver/v1/predict_service.js";
import { GrpcCode } from "./src/grpc-status.js";
import { launchHeadlessChromium, skipWithoutChromium } from "./testing/headless-chromium.js";

// The page's grpc-web client (the grpc-web library and its adapter) in headless Chromium,
// the XMLHttpRequest it really runs on, against a plain HTTP server that scripts each
// answer byte by byte: what Envoy or the bridge send, and what a broken proxy might.

const SKIP = skipWithoutChromium("gateway/web/grpc-web-client.test.ts");
const WEB_DIR = path.dirname(fileURLToPath(import.meta.url));

/** The page side: runs one call with the given options and reports what the caller saw. */
const HARNESS = `
import { GrpcWebClient } from "./src/grpc-web-client.js";
import { GrpcWebError } from "./src/grpc-status.js";
import { PredictRequest, PredictResponse } from "./src/gen/liver/v1/predict_service.js";
const client = new GrpcWebClient();
const method = (path) => ({ path, requestType: PredictRequest, responseType: PredictResponse });
globalThis.runCall = async (o) => {
  const controller = new AbortController();
  if (o.preAborted) controller.abort();
  if (o.abortAfterMs !== undefined) setTimeout(() => controller.abort(), o.abortAfterMs);
  const options = { signal: controller.signal, timeoutMs: o.timeoutMs, metadata: o.metadata };
  const request = PredictRequest.fromPartial({ patient: { age: 45 } });
  const versions = [];
  try {
    if (o.stream) {
      for await (const m of client.serverStream(method(o.path), request, options)) {
        versions.push(m.modelVersion);
        if (o.abortAfterFirst) controller.abort();
        if (o.breakAfterFirst) break;
      }
    } else versions.push((await client.unary(method(o.path), request, options)).modelVersion);
    return { versions, code: 0, details: "", metadata: [] };
  } catch (e) {
    if (!(e instanceof GrpcWebError)) return { versions, code: -1, details: String(e), metadata: [] };
    return { versions, code: e.code, details: e.details, metadata: [...e.metadata] };
  }
};`;

interface CallOptions {
  readonly path?: string;
  readonly stream?: boolean;
  readonly timeoutMs?: number;
  readonly abortAfterMs?: number;
  readonly abortAfterFirst?: boolean;
  readonly breakAfterFirst?: boolean;
  readonly preAborted?: boolean;
  readonly metadata?: Record<string, string>;
}

interface Outcome {
  readonly versions: string[];
  readonly code: number;
  readonly details: string;
  readonly metadata: [string, string][];
}

type Script = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

const TEXT = { "content-type": "application/grpc-web-text+proto" };

function frame(flag: number, payload: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + payload.length);
  out[0] = flag;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

const message = (modelVersion: string): Buffer =>
  frame(0, PredictResponse.encode(PredictResponse.fromPartial({ modelVersion })).finish());
const trailer = (block: string): Buffer => frame(0x80, Buffer.from(block, "latin1"));
const b64 = (...parts: Buffer[]): string => Buffer.concat(parts).toString("base64");

let script: Script = (_req, res) => res.writeHead(500).end();
let seen: { headers: IncomingMessage["headers"]; body: Buffer } | undefined;
let requestClosed: Promise<void> = Promise.resolve();
let server: Server;
let browser: Browser;
let page: Page;

async function call(options: CallOptions = {}): Promise<Outcome> {
  const o = { path: "/liver.v1.PredictService/Predict", ...options };
  return page.evaluate(
    (arg) => (globalThis as unknown as { runCall(a: unknown): Promise<Outcome> }).runCall(arg),
    o,
  );
}

describe.skipIf(SKIP)("the page's grpc-web client in Chromium", () => {
  beforeAll(async () => {
    const bundle = await build({
      stdin: { contents: HARNESS, resolveDir: WEB_DIR, sourcefile: "harness.js", loader: "js" },
      bundle: true,
      format: "esm",
      write: false,
      logLevel: "silent",
    });
    const js = bundle.outputFiles[0]?.text ?? "";
    server = createServer((req, res) => {
      if (req.method === "GET") {
        const isScript = req.url === "/harness.js";
        res.writeHead(200, { "content-type": isScript ? "text/javascript" : "text/html" });
        res.end(isScript ? js : `<!doctype html><script type="module" src="/harness.js"></script>`);
        return;
      }
      const chunks: Buffer[] = [];
      requestClosed = once(req, "close").then(() => undefined);
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        seen = { headers: req.headers, body: Buffer.concat(chunks) };
        script(req, res, seen.body);
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    browser = await launchHeadlessChromium();
    page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => "runCall" in globalThis);
  });

  afterAll(async () => {
    await browser.close();
    server.closeAllConnections();
    server.close();
  });

  it("posts one grpc-web-text frame with the deadline and metadata, and decodes an answer sent in pieces", async () => {
    script = (_req, res) => {
      res.writeHead(200, TEXT);
      const body = b64(message("v7"), trailer("grpc-status:0\r\n"));
      let at = 0;
      const next = (): void => {
        if (at >= body.length) return void res.end();
        res.write(body.slice(at, (at += 5)));
        setTimeout(next, 1);
      };
      next();
    };
    const outcome = await call({
      timeoutMs: 5000,
      metadata: { traceparent: "00-" + "1".repeat(32) + "-" + "2".repeat(16) + "-01" },
    });
    expect(outcome).toMatchObject({ code: 0, versions: ["v7"] });
    expect(seen?.headers["content-type"]).toBe("application/grpc-web-text");
    expect(seen?.headers["x-grpc-web"]).toBe("1");
    expect(seen?.headers["grpc-timeout"]).toMatch(/^\d+m$/);
    expect(Number(seen?.headers["grpc-timeout"]?.slice(0, -1))).toBeLessThanOrEqual(5000);
    expect(seen?.headers.traceparent).toBe(`00-${"1".repeat(32)}-${"2".repeat(16)}-01`);
    const sent = Buffer.from(seen?.body.toString("latin1") ?? "", "base64");
    expect(sent[0]).toBe(0);
    expect(PredictRequest.decode(sent.subarray(5)).patient?.age).toBe(45);
  });

  it("turns a non-OK trailer into an error with the code, the decoded message and the trailers", async () => {
    script = (_req, res) => {
      res.writeHead(200, TEXT);
      res.end(
        b64(
          trailer(
            "grpc-status:3\r\ngrpc-message:age%3A 200 is outside 4 to 90 %E2%80%93 fix it\r\nx-why:range\r\n",
          ),
        ),
      );
    };
    const outcome = await call();
    expect(outcome.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(outcome.details).toBe("age: 200 is outside 4 to 90 – fix it");
    expect(outcome.metadata).toContainEqual(["x-why", "range"]);
  });

  it("reads a trailers-only answer from the headers", async () => {
    script = (_req, res) => {
      res
        .writeHead(200, {
          ...TEXT,
          "grpc-status": "16",
          "grpc-message": "sign in first",
          "content-length": "0",
        })
        .end();
    };
    expect(await call()).toMatchObject({
      code: GrpcCode.UNAUTHENTICATED,
      details: "sign in first",
      versions: [],
    });
    expect(seen?.headers["grpc-timeout"]).toBeUndefined(); // no deadline, none sent
  });

  it("maps HTTP errors without grpc-status as gRPC prescribes", async () => {
    for (const [httpStatus, code] of [
      [404, GrpcCode.UNIMPLEMENTED],
      [503, GrpcCode.UNAVAILABLE],
      [401, GrpcCode.UNAUTHENTICATED],
    ] as const) {
      script = (_req, res) =>
        res.writeHead(httpStatus, { "content-type": "text/html" }).end("<html>proxy</html>");
      const outcome = await call();
      expect(outcome.code, String(httpStatus)).toBe(code);
      expect(outcome.details).toBe(`the gateway answered HTTP ${httpStatus}`);
    }
  });

  it("refuses a 200 answer that is not grpc-web (an HTML page, say)", async () => {
    script = (_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html>login</html>");
    expect(await call()).toMatchObject({ code: GrpcCode.UNKNOWN, details: "Unknown Content-type received." });
  });

  it("reports a gateway that drops the connection as UNAVAILABLE", async () => {
    script = (req) => req.socket.destroy();
    expect(await call()).toMatchObject({ code: GrpcCode.UNAVAILABLE, details: "cannot reach the gateway" });
  });

  it("reports an answer that ends without trailers (a proxy cut it) as UNAVAILABLE", async () => {
    script = (_req, res) => {
      res.writeHead(200, TEXT);
      res.end(b64(message("v1")));
    };
    expect(await call()).toMatchObject({
      code: GrpcCode.UNAVAILABLE,
      details: "the response ended without a grpc-status",
    });
  });

  it("refuses zero or two messages for a unary call", async () => {
    for (const messages of [[], [message("a"), message("b")]]) {
      script = (_req, res) => {
        res.writeHead(200, TEXT);
        res.end(b64(...messages, trailer("grpc-status:0\r\n")));
      };
      const outcome = await call();
      expect(outcome.code).toBe(GrpcCode.INTERNAL);
      expect(outcome.details).toMatch(/expected exactly one response message, got/);
    }
  });

  it("ends a call that outlives its deadline with DEADLINE_EXCEEDED, and cancels the request", async () => {
    script = () => undefined; // never answers
    const outcome = await call({ timeoutMs: 200 });
    expect(outcome.code).toBe(GrpcCode.DEADLINE_EXCEEDED);
    expect(outcome.details).toMatch(/took longer than 200 ms/);
    await requestClosed;
  });

  it("ends a call with CANCELLED when the caller aborts, also before it starts", async () => {
    script = () => undefined;
    expect(await call({ abortAfterMs: 50 })).toMatchObject({ code: GrpcCode.CANCELLED });
    await requestClosed;
    expect(await call({ preAborted: true })).toMatchObject({ code: GrpcCode.CANCELLED });
  });

  describe("server streams", () => {
    const WATCH = "/liver.v1.RetrainService/WatchModelVersions";

    it("yields each message as it arrives, before the stream ends", async () => {
      script = (_req, res) => {
        res.writeHead(200, TEXT);
        res.write(b64(message("v1"))); // and then nothing: only a live stream delivers it
      };
      const outcome = await call({ path: WATCH, stream: true, abortAfterFirst: true });
      expect(outcome).toMatchObject({ versions: ["v1"], code: GrpcCode.CANCELLED });
      await requestClosed;
    });

    it("ends cleanly on an OK trailer, and delivers the messages before an error status", async () => {
      script = (_req, res) => {
        res.writeHead(200, TEXT);
        res.write(b64(message("v1")));
        res.end(b64(message("v2"), trailer("grpc-status:0\r\n")));
      };
      expect(await call({ path: WATCH, stream: true })).toMatchObject({ versions: ["v1", "v2"], code: 0 });
      script = (_req, res) => {
        res.writeHead(200, TEXT);
        res.end(b64(message("v1"), trailer("grpc-status:14\r\ngrpc-message:registry closed\r\n")));
      };
      expect(await call({ path: WATCH, stream: true })).toMatchObject({
        versions: ["v1"],
        code: GrpcCode.UNAVAILABLE,
        details: "registry closed",
      });
    });

    it("cancels the HTTP request when the consumer stops reading early", async () => {
      script = (_req, res) => {
        res.writeHead(200, TEXT);
        res.write(b64(message("v1")));
      };
      expect(await call({ path: WATCH, stream: true, breakAfterFirst: true })).toMatchObject({
        versions: ["v1"],
        code: 0,
      });
      await requestClosed;
    });
  });
});
