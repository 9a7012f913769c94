import type { ServerResponse } from "node:http";
import {
  connect,
  constants,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
} from "node:http2";
import { status as Status } from "@grpc/grpc-js";
import { grpcCodeFromHttpStatus } from "../web/src/grpc-status.js";
import type { TlsMaterial } from "./bridge-tls.js";
import { formatGrpcTimeout, isHttpOnlyHeader } from "./grpc-web-headers.js";

/**
 * The bridge's gRPC side, at the byte level as Envoy's grpc_web filter works: a grpc-web
 * request body is already one gRPC length-prefixed message, so it goes upstream unchanged on
 * an HTTP/2 stream, the upstream's DATA frames come back unchanged, and its HTTP/2 trailers
 * become the grpc-web trailer frame (0x80). Nothing is decoded, so no method needs code here.
 * A unary answer is held until its status is known (one write with a content-length, and a
 * SubmitFeedback that met UNAVAILABLE can be sent again); a stream is relayed as it arrives,
 * with the browser's backpressure reaching the upstream through HTTP/2 flow control.
 */

/** Bytes before a frame's payload: flag (1) + big-endian length (4). */
export const FRAME_HEADER_BYTES = 5;
const TRAILER_FLAG = 0x80;

/** A status message as grpc-message carries it: UTF-8, with "%" and non-printable bytes as %XX. */
export function encodeGrpcMessage(message: string): string {
  return /^[\x20-\x24\x26-\x7e]*$/.test(message)
    ? message
    : Array.from(Buffer.from(message, "utf8"), (b) =>
        b >= 0x20 && b <= 0x7e && b !== 0x25
          ? String.fromCharCode(b)
          : `%${b.toString(16).toUpperCase().padStart(2, "0")}`,
      ).join("");
}

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, HTTP2_HEADER_STATUS } = constants;
/** gRPC status codes by number (0 to 16). */
const STATUS_CODES: readonly Status[] = Object.values(Status)
  .filter((v): v is Status => typeof v === "number")
  .sort((a, b) => a - b);
const HEADER_SAFE = /^[\t\x20-\x7e]*$/;
/** Largest unary answer held (a PredictBatch of 10,000 results with tokens fits). */
const MAX_HELD_BYTES = 64 * 1024 * 1024;

/** The call's metadata among upstream headers or trailers (no grpc-*): what may reach the browser. */
function metadataOf(headers: IncomingHttpHeaders): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(":") || isHttpOnlyHeader(name)) continue;
    for (const v of Array.isArray(value) ? value : [value]) if (HEADER_SAFE.test(v)) out.push([name, v]);
  }
  return out;
}

/** gRPC's retry throttling for the retried method: a token bucket (maxTokens 10, tokenRatio 0.1). */
export class RetryThrottle {
  private tokens = 10;

  /** A call failed with a retryable status; true when a retry is still allowed. */
  failed(): boolean {
    this.tokens = Math.max(0, this.tokens - 1);
    return this.tokens > 5;
  }

  /** A call ended with a status a retry would not change. */
  succeeded(): void {
    this.tokens = Math.min(10, this.tokens + 0.1);
  }
}

/** One HTTP/2 connection to one upstream, opened on first use and again after it drops. */
export class Upstream {
  private session: ClientHttp2Session | undefined;

  constructor(
    readonly address: string,
    /** When set, connections use TLS with what it returns at connect time (so rotation applies). */
    private readonly tls?: () => TlsMaterial,
  ) {}

  /** A new stream; a session that refuses one (GOAWAY, ids exhausted) is replaced once. */
  request(headers: Record<string, string>, retried = false): ClientHttp2Stream {
    let session = this.session;
    if (session === undefined || session.closed || session.destroyed) {
      session = connect(`${this.tls === undefined ? "http" : "https"}://${this.address}`, {
        ...this.tls?.(),
        settings: { enablePush: false },
        // As grpc-js: Node's 10 MB per-session cap refuses streams under load.
        maxSessionMemory: Number.MAX_SAFE_INTEGER,
      });
      session.unref(); // idle connections must not keep the process alive
      const current = session;
      const forget = (): void => {
        if (this.session === current) this.session = undefined;
      };
      for (const event of ["error", "goaway", "close"]) session.on(event, forget);
      this.session = session;
    }
    try {
      return session.request({ ":method": "POST", ...headers });
    } catch (error) {
      this.session = undefined;
      session.close();
      if (retried) throw error;
      return this.request(headers, true);
    }
  }

  close(): void {
    this.session?.destroy();
    this.session = undefined;
  }
}

/** One call to forward. */
export interface ProxyRequest {
  readonly path: string;
  /** Call metadata as HTTP/2 headers (already filtered and translated). */
  readonly metadata: Readonly<Record<string, string>>;
  /** The request: exactly one gRPC length-prefixed message. */
  readonly body: Buffer;
  /** Milliseconds the call may take; Infinity for none. */
  readonly timeoutMs: number;
  readonly serverStreaming: boolean;
  /** Send again after UNAVAILABLE within the deadline (idempotent methods only). */
  readonly retry: RetryThrottle | undefined;
  /** Answer as application/grpc-web-text (base64). */
  readonly text: boolean;
  /** Headers every answer carries: CORS and the grpc-web content type. */
  readonly baseHeaders: Readonly<Record<string, string>>;
}

/** A status and the trailer metadata that go with it. */
interface Outcome {
  readonly code: Status;
  /** grpc-message as on the wire (percent-encoded). */
  readonly message: string;
  readonly metadata: [string, string][];
}

const own = (code: Status, message: string): Outcome => ({
  code,
  message: encodeGrpcMessage(message),
  metadata: [],
});

/** Response headers: the call's metadata (a repeated name's values joined), then `headers`. */
function withMetadata(
  metadata: readonly [string, string][],
  headers: Readonly<Record<string, string>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of metadata)
    out[name] = out[name] === undefined ? value : `${out[name]}, ${value}`;
  return Object.assign(out, headers);
}

/**
 * Writes a trailers-only grpc-web answer (status in the HTTP headers, empty body), what
 * grpc-web clients expect for an error before any message. `httpStatus` is 200 but for
 * requests refused outright (404 unknown path, 415 not grpc-web).
 */
export function answerTrailersOnly(
  res: ServerResponse,
  outcome: { code: number; message: string; metadata?: [string, string][] },
  headers: Readonly<Record<string, string>>,
  httpStatus = 200,
): void {
  if (res.headersSent || res.destroyed) return;
  const out = withMetadata(outcome.metadata ?? [], headers);
  Object.assign(out, { "grpc-status": String(outcome.code), "content-length": "0" });
  if (outcome.message !== "") out["grpc-message"] = outcome.message;
  res.writeHead(httpStatus, out).end();
}

/** A forwarded call, cancellable by the bridge when it closes. */
export class ProxiedCall {
  private stream: ClientHttp2Stream | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly deadline: number;
  private attempts = 0;
  private done = false;
  private started = false; // the browser has response headers
  private held: Buffer[] = [];
  private heldBytes = 0;
  private carry: Buffer = Buffer.alloc(0); // text mode: bytes short of a 3-byte group
  private headers: [string, string][] = [];
  private trailers: IncomingHttpHeaders | undefined;
  private httpStatus = 0;
  private streamError: (Error & { code?: unknown }) | undefined;
  /** Why the upstream could not be reached (address, socket error): for the log, never the browser. */
  detail: string | undefined;
  /** Called once with the final gRPC code (tracing, logs). */
  onEnd: (code: Status, message: string) => void = () => undefined;

  constructor(
    private readonly upstream: Upstream,
    private readonly request: ProxyRequest,
    private readonly res: ServerResponse,
  ) {
    this.deadline = performance.now() + request.timeoutMs;
    if (Number.isFinite(request.timeoutMs)) {
      this.timer = setTimeout(
        () => this.abort(Status.DEADLINE_EXCEEDED, `Deadline exceeded after ${request.timeoutMs} ms`),
        request.timeoutMs,
      );
    }
    res.on("close", () => {
      // The browser went away before the answer was complete: stop the upstream work.
      if (!res.writableFinished) this.abort(Status.CANCELLED, "Cancelled by the browser");
    });
    this.attempt();
  }

  /** Ends the call with CANCELLED (the bridge is closing). */
  cancel(): void {
    this.abort(Status.CANCELLED, "The gateway is shutting down");
  }

  private attempt(): void {
    this.attempts++;
    this.trailers = undefined;
    this.streamError = undefined;
    this.httpStatus = 0;
    this.held = [];
    this.heldBytes = 0;
    this.headers = [];
    const headers: Record<string, string> = {
      ":path": this.request.path,
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-accept-encoding": "identity",
      "user-agent": "liver-grpc-web-bridge",
      ...this.request.metadata,
    };
    const left = this.deadline - performance.now();
    if (Number.isFinite(left)) headers["grpc-timeout"] = formatGrpcTimeout(left);
    let stream: ClientHttp2Stream;
    try {
      stream = this.upstream.request(headers);
    } catch (error) {
      process.nextTick(() => this.settle(own(Status.UNAVAILABLE, this.unreachable(error))));
      return;
    }
    this.stream = stream;
    const session = stream.session; // destroyed by the time a dropped connection closes the stream
    stream.on("response", (response, flags) => {
      this.httpStatus = Number(response[HTTP2_HEADER_STATUS] ?? 0);
      if ((flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0) this.trailers = response;
      else this.headers = metadataOf(response);
    });
    stream.on("data", (chunk: Buffer) => this.relay(chunk));
    stream.on("trailers", (trailers: IncomingHttpHeaders) => (this.trailers = trailers));
    stream.on("error", (error: Error) => (this.streamError = error));
    stream.on("close", () => {
      if (stream === this.stream) this.settle(this.outcome(stream, session?.destroyed === true));
    });
    stream.end(this.request.body);
  }

  /**
   * What the browser is told when the upstream cannot be reached: no address and no socket
   * error (internal details a page must not show); those go to `detail`, which the bridge logs.
   */
  private unreachable(error: unknown): string {
    const e = error as Error;
    const cause = e.cause instanceof Error ? e.cause.message : e.message;
    this.detail = `upstream ${this.upstream.address} unreachable: ${cause}`;
    return "the service is unreachable";
  }

  /** How the upstream stream ended, as a gRPC client reads it. */
  private outcome(stream: ClientHttp2Stream, dropped: boolean): Outcome {
    const trailers = this.trailers;
    const raw = trailers?.["grpc-status"];
    if (trailers !== undefined && typeof raw === "string") {
      const message = trailers["grpc-message"];
      const code = (/^\d{1,2}$/.test(raw) ? STATUS_CODES[Number(raw)] : undefined) ?? Status.UNKNOWN;
      return { code, message: typeof message === "string" ? message : "", metadata: metadataOf(trailers) };
    }
    if (this.httpStatus !== 0 && this.httpStatus !== 200) {
      const code = STATUS_CODES[grpcCodeFromHttpStatus(this.httpStatus)] ?? Status.UNKNOWN;
      return own(code, `Received HTTP status code ${this.httpStatus}`);
    }
    const error = this.streamError;
    if (error !== undefined && error.code !== "ERR_HTTP2_STREAM_ERROR") {
      return own(Status.UNAVAILABLE, this.unreachable(error));
    }
    if (stream.rstCode === NGHTTP2_REFUSED_STREAM) return own(Status.UNAVAILABLE, "Stream refused by server");
    // As grpc-js: node reports a dropped connection (the service restarting) as CANCEL too.
    if (stream.rstCode === NGHTTP2_CANCEL)
      return dropped
        ? own(Status.UNAVAILABLE, "Connection dropped")
        : own(Status.CANCELLED, "Call cancelled by the upstream");
    if (stream.rstCode === constants.NGHTTP2_ENHANCE_YOUR_CALM) {
      return own(Status.RESOURCE_EXHAUSTED, "the upstream refused the request's size (too many headers?)");
    }
    return own(Status.INTERNAL, `upstream stream ended without grpc-status (RST_STREAM ${stream.rstCode})`);
  }

  /** Upstream DATA: held for a unary call, written through for a stream. */
  private relay(chunk: Buffer): void {
    if (this.done) return;
    if (!this.request.serverStreaming) {
      this.heldBytes += chunk.length;
      if (this.heldBytes > MAX_HELD_BYTES) {
        this.abort(
          Status.RESOURCE_EXHAUSTED,
          `response exceeds the gateway's limit of ${MAX_HELD_BYTES} bytes`,
        );
      } else this.held.push(chunk);
      return;
    }
    if (!this.started) this.writeHead();
    const stream = this.stream;
    if (!this.write(chunk) && stream !== undefined && !stream.isPaused()) {
      // The browser reads slower than the upstream sends: HTTP/2 flow control holds it back.
      stream.pause();
      this.res.once("drain", () => stream.resume());
    }
  }

  private writeHead(contentLength?: number): void {
    const headers = withMetadata(this.headers, this.request.baseHeaders);
    if (contentLength !== undefined) headers["content-length"] = String(contentLength);
    this.res.writeHead(200, headers);
    this.started = true;
  }

  /** Writes bytes, base64 in text mode (whole 3-byte groups, so the body is one base64 run). */
  private write(bytes: Buffer, last = false): boolean {
    if (!this.request.text) return last ? (this.res.end(bytes), true) : this.res.write(bytes);
    const all = this.carry.length === 0 ? bytes : Buffer.concat([this.carry, bytes]);
    const whole = last ? all.length : all.length - (all.length % 3);
    this.carry = all.subarray(whole);
    const text = all.subarray(0, whole).toString("base64");
    if (last) this.res.end(text, "latin1");
    return last || this.res.write(text, "latin1");
  }

  /** Ends the call with a status of the bridge's own, resetting the upstream stream. */
  private abort(code: Status, message: string): void {
    if (this.done) return;
    const stream = this.stream;
    this.finish(own(code, message));
    if (stream !== undefined && !stream.closed) stream.close(NGHTTP2_CANCEL);
  }

  private settle(outcome: Outcome): void {
    if (this.done) return;
    const throttle = this.request.retry;
    if (throttle !== undefined && !this.started) {
      if (outcome.code !== Status.UNAVAILABLE) throttle.succeeded();
      else if (throttle.failed() && this.attempts < 4) {
        // 250 ms doubling to 2 s, while the deadline leaves room to connect and answer.
        const wait = Math.min(2000, 250 * 2 ** (this.attempts - 1));
        if (this.deadline - performance.now() > wait + 500) {
          this.stream = undefined;
          setTimeout(() => {
            if (!this.done) this.attempt();
          }, wait);
          return;
        }
      }
    }
    this.finish(outcome);
  }

  private finish(outcome: Outcome): void {
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.onEnd(outcome.code, outcome.message);
    if (this.res.writableEnded || this.res.destroyed) return;
    const held = outcome.code === Status.OK ? Buffer.concat(this.held) : Buffer.alloc(0);
    if (!this.started && held.length === 0) {
      const metadata = [...this.headers, ...outcome.metadata];
      answerTrailersOnly(this.res, { ...outcome, metadata }, this.request.baseHeaders);
      return;
    }
    let block = `grpc-status:${outcome.code}\r\n`;
    if (outcome.message !== "") block += `grpc-message:${outcome.message}\r\n`;
    for (const [name, value] of outcome.metadata) block += `${name}:${value}\r\n`;
    const trailer = Buffer.alloc(FRAME_HEADER_BYTES + block.length);
    trailer[0] = TRAILER_FLAG;
    trailer.writeUInt32BE(block.length, 1);
    trailer.write(block, FRAME_HEADER_BYTES, "latin1");
    if (this.started) {
      this.write(trailer, true);
      return;
    }
    const body = Buffer.concat([held, trailer]);
    const encoded = this.request.text ? Buffer.from(body.toString("base64"), "latin1") : body;
    this.writeHead(encoded.length);
    this.res.end(encoded);
  }
}
