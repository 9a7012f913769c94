import {
  connect,
  constants,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from "node:http2";
import { status as Status } from "@grpc/grpc-js";
import type { TlsMaterial } from "./bridge-tls.js";
import { COMPRESSED_FLAG, decodeGrpcMessage, formatGrpcTimeout, FrameDecoder } from "../grpc-web-framing.js";
import { responseMetadata } from "./grpc-web-headers.js";

/**
 * The bridge's side of gRPC: one HTTP/2 connection to one upstream, carrying calls whose
 * messages stay bytes. It speaks the gRPC wire protocol directly on node:http2, as Envoy
 * does, instead of going through a grpc-js Client: the bridge never decodes messages, and
 * grpc-js's per-call machinery (interceptors, retry and load-balancing layers, Metadata
 * objects, stream decoder) cost more CPU than the rest of the bridge together. What a gRPC
 * client must do is kept: deadlines sent as grpc-timeout and enforced locally, cancellation
 * as RST_STREAM, gRPC status from trailers (or a trailers-only answer), HTTP and HTTP/2
 * failures mapped to gRPC codes as grpc-js maps them, a receive size limit, a transparent
 * retry of streams the server refused unprocessed, and reconnection after the connection
 * drops or the server says GOAWAY.
 */

/** Largest response message accepted (a PredictBatch of 10,000 results with tokens fits). */
export const DEFAULT_MAX_RECEIVE_BYTES = 64 * 1024 * 1024;

const USER_AGENT = "liver-grpc-web-bridge";

/** How a call ended, as a gRPC client reports it. */
export interface UpstreamStatus {
  readonly code: Status;
  readonly details: string;
  /** Trailing metadata, as (name, value) pairs. */
  readonly metadata: [string, string][];
}

/** What a call tells its owner, in order: metadata, messages, then the status exactly once. */
export interface UpstreamListener {
  /** The response headers as metadata; not called for a trailers-only answer. */
  onMetadata(metadata: [string, string][]): void;
  /** One response message (serialized, without its frame header). */
  onMessage(message: Uint8Array): void;
  /** The end of the call: after every message has been delivered. */
  onStatus(status: UpstreamStatus): void;
}

/** One call to start. */
export interface UpstreamRequest {
  /** "/package.Service/Method". */
  readonly path: string;
  /** Call metadata as HTTP/2 headers. */
  readonly metadata: Readonly<Record<string, string>>;
  /** The request message as one gRPC length-prefixed frame (the grpc-web frame is one). */
  readonly frame: Uint8Array;
  /** Milliseconds the call may take; Infinity for no deadline. */
  readonly timeoutMs: number;
}

/** A running call. */
export interface UpstreamCall {
  /** Ends the call with CANCELLED and resets the upstream stream. */
  cancel(): void;
  /** Stops reading responses (HTTP/2 flow control then holds the upstream back). */
  pause(): void;
  resume(): void;
}

/** One HTTP/2 connection to one upstream address, opened on first use and after it drops. */
export class GrpcUpstream {
  private session: ClientHttp2Session | undefined;
  private closed = false;

  constructor(
    /** host:port, as in PREDICT_ADDRS. */
    readonly address: string,
    readonly maxReceiveBytes = DEFAULT_MAX_RECEIVE_BYTES,
    /** When set, connections use TLS with what it returns at connect time (so rotation applies). */
    private readonly tls?: () => TlsMaterial,
  ) {}

  /** Starts a call; its outcome arrives through `listener`, never as an exception. */
  call(request: UpstreamRequest, listener: UpstreamListener): UpstreamCall {
    return new Http2Call(this, request, listener);
  }

  /** Closes the connection; calls still running end with an error status. */
  close(): void {
    this.closed = true;
    this.session?.destroy();
    this.session = undefined;
  }

  /** The connection for a new stream: the current one while it is usable, else a new one. */
  openSession(): ClientHttp2Session {
    if (this.closed) throw new Error(`the bridge closed its connection to ${this.address}`);
    const current = this.session;
    if (current !== undefined && !current.closed && !current.destroyed) return current;
    const session = connect(`${this.tls === undefined ? "http" : "https"}://${this.address}`, {
      ...this.tls?.(),
      settings: { enablePush: false },
      // As grpc-js does: Node's 10 MB per-session cap refuses streams under load; the
      // bridge's request and receive limits already bound what one call may hold.
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
    });
    // Idle connections must not keep the process alive; the HTTP server does while serving.
    session.unref();
    const forget = (): void => {
      if (this.session === session) this.session = undefined;
    };
    // Streams report their own failure; the session only has to be replaced.
    session.on("error", forget);
    session.on("goaway", forget);
    session.on("close", forget);
    this.session = session;
    return session;
  }

  /** Drops a session that refused a new stream, so the next call connects afresh. */
  discard(session: ClientHttp2Session | undefined): void {
    if (session !== undefined && this.session === session) {
      this.session = undefined;
      session.close();
    }
  }
}

const {
  NGHTTP2_CANCEL,
  NGHTTP2_ENHANCE_YOUR_CALM,
  NGHTTP2_FLAG_END_STREAM,
  NGHTTP2_INADEQUATE_SECURITY,
  NGHTTP2_NO_ERROR,
  NGHTTP2_REFUSED_STREAM,
} = constants;

/** Every gRPC status code, indexed by its number; other numbers read as UNKNOWN. */
const STATUS_CODES: readonly Status[] = [
  Status.OK,
  Status.CANCELLED,
  Status.UNKNOWN,
  Status.INVALID_ARGUMENT,
  Status.DEADLINE_EXCEEDED,
  Status.NOT_FOUND,
  Status.ALREADY_EXISTS,
  Status.PERMISSION_DENIED,
  Status.RESOURCE_EXHAUSTED,
  Status.FAILED_PRECONDITION,
  Status.ABORTED,
  Status.OUT_OF_RANGE,
  Status.UNIMPLEMENTED,
  Status.INTERNAL,
  Status.UNAVAILABLE,
  Status.DATA_LOSS,
  Status.UNAUTHENTICATED,
];

/** gRPC's mapping of an HTTP status without grpc-status (PROTOCOL-HTTP2, as grpc-js). */
function statusFromHttp(httpStatus: number, metadata: [string, string][] = []): UpstreamStatus {
  const code =
    httpStatus === 400
      ? Status.INTERNAL
      : httpStatus === 401
        ? Status.UNAUTHENTICATED
        : httpStatus === 403
          ? Status.PERMISSION_DENIED
          : httpStatus === 404
            ? Status.UNIMPLEMENTED
            : httpStatus === 429 || httpStatus === 502 || httpStatus === 503 || httpStatus === 504
              ? Status.UNAVAILABLE
              : Status.UNKNOWN;
  return { code, details: `Received HTTP status code ${httpStatus}`, metadata };
}

/** The status in trailers (or in the headers of a trailers-only answer). */
function statusFromTrailers(trailers: IncomingHttpHeaders, httpStatus: number): UpstreamStatus {
  const metadata = responseMetadata(trailers).filter(
    ([name]) => name !== "grpc-status" && name !== "grpc-message",
  );
  const raw = trailers["grpc-status"];
  if (typeof raw !== "string") {
    if (httpStatus !== 0 && httpStatus !== 200) return statusFromHttp(httpStatus, metadata);
    return { code: Status.UNKNOWN, details: "No status information received", metadata };
  }
  const code = (/^\d{1,2}$/.test(raw) ? STATUS_CODES[Number(raw)] : undefined) ?? Status.UNKNOWN;
  const message = trailers["grpc-message"];
  return { code, details: typeof message === "string" ? decodeGrpcMessage(message) : "", metadata };
}

/** One call on an HTTP/2 stream (a second stream only for a transparent retry). */
class Http2Call implements UpstreamCall {
  private stream: ClientHttp2Stream | undefined;
  private readonly decoder: FrameDecoder;
  private readonly deadline: number;
  private timer: NodeJS.Timeout | undefined;
  /** A status decided here (cancel, deadline, bad response) that wins over the stream's. */
  private decided: UpstreamStatus | undefined;
  private trailers: IncomingHttpHeaders | undefined;
  private httpStatus = 0;
  private responded = false;
  private streamError: (Error & { code?: unknown }) | undefined;
  private retried = false;
  private paused = false;
  private done = false;

  constructor(
    private readonly upstream: GrpcUpstream,
    private readonly request: UpstreamRequest,
    private readonly listener: UpstreamListener,
  ) {
    this.decoder = new FrameDecoder(upstream.maxReceiveBytes);
    this.deadline = performance.now() + request.timeoutMs;
    if (Number.isFinite(request.timeoutMs)) {
      this.timer = setTimeout(() => {
        this.abort(Status.DEADLINE_EXCEEDED, `Deadline exceeded after ${request.timeoutMs} ms`);
      }, request.timeoutMs);
    }
    this.start();
  }

  cancel(): void {
    this.abort(Status.CANCELLED, "Cancelled on client");
  }

  pause(): void {
    this.paused = true;
    this.stream?.pause();
  }

  resume(): void {
    this.paused = false;
    this.stream?.resume();
  }

  private start(): void {
    const headers: OutgoingHttpHeaders = {
      ":method": "POST",
      ":path": this.request.path,
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-accept-encoding": "identity",
      "user-agent": USER_AGENT,
    };
    // Metadata never holds these names: requestHeaders() drops pseudo, grpc-* and HTTP-only ones.
    Object.assign(headers, this.request.metadata);
    if (Number.isFinite(this.request.timeoutMs)) {
      headers["grpc-timeout"] = formatGrpcTimeout(Math.max(0, this.deadline - performance.now()));
    }
    let session: ClientHttp2Session | undefined;
    let stream: ClientHttp2Stream;
    try {
      session = this.upstream.openSession();
      stream = session.request(headers);
    } catch (error) {
      // A session that just received GOAWAY or ran out of stream ids: once more on a new one.
      this.upstream.discard(session);
      if (!this.retried) {
        this.retried = true;
        this.start();
        return;
      }
      const status = {
        code: Status.UNAVAILABLE,
        details: `upstream ${this.upstream.address}: ${(error as Error).message}`,
        metadata: [],
      };
      // Never report the status before `call()` has returned the call to its owner.
      process.nextTick(() => {
        this.finish(status);
      });
      return;
    }
    this.stream = stream;
    stream.on("response", (response, flags) => {
      this.responded = true;
      this.httpStatus = response[":status"] ?? 0;
      // END_STREAM on the headers: a trailers-only answer, the status is in them.
      if ((flags & NGHTTP2_FLAG_END_STREAM) !== 0) this.trailers = response;
      else if (this.decided === undefined) this.listener.onMetadata(responseMetadata(response));
    });
    stream.on("data", (chunk: Buffer) => {
      this.read(chunk);
    });
    stream.on("trailers", (trailers: IncomingHttpHeaders) => {
      this.trailers = trailers;
    });
    // Errors are reported by "close" through rstCode and this error; never thrown.
    stream.on("error", (error: Error) => {
      this.streamError = error;
    });
    stream.on("close", () => {
      this.onClose(stream);
    });
    if (this.paused) stream.pause();
    stream.end(this.request.frame);
  }

  private read(chunk: Buffer): void {
    if (this.decided !== undefined) return;
    let frames;
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      // An HTML error page read as a frame says more through its HTTP status.
      if (this.httpStatus !== 200) {
        const mapped = statusFromHttp(this.httpStatus);
        this.abort(mapped.code, mapped.details);
      } else {
        this.abort(
          Status.RESOURCE_EXHAUSTED,
          `response message from ${this.upstream.address}: ${(error as Error).message}`,
        );
      }
      return;
    }
    for (const frame of frames) {
      if ((frame.flag & COMPRESSED_FLAG) !== 0) {
        this.abort(
          Status.INTERNAL,
          `${this.upstream.address} sent a compressed message; the bridge accepts identity only`,
        );
        return;
      }
      this.listener.onMessage(frame.payload);
      if (this.aborted) return; // the listener cancelled the call
    }
  }

  private get aborted(): boolean {
    return this.decided !== undefined;
  }

  /** Ends the call with a status of the bridge's own and resets the stream. */
  private abort(code: Status, details: string): void {
    if (this.done || this.decided !== undefined) return;
    this.decided = { code, details, metadata: [] };
    const stream = this.stream;
    if (stream === undefined || stream.closed || stream.destroyed) this.finish(this.decided);
    else stream.close(NGHTTP2_CANCEL); // "close" then finishes with the decided status
  }

  private onClose(stream: ClientHttp2Stream): void {
    if (stream !== this.stream) return;
    if (this.decided !== undefined) {
      this.finish(this.decided);
      return;
    }
    if (this.trailers !== undefined) {
      this.finish(statusFromTrailers(this.trailers, this.httpStatus));
      return;
    }
    const rst = stream.rstCode;
    if (rst === NGHTTP2_REFUSED_STREAM && !this.responded && !this.retried) {
      // Refused before any processing (e.g. a GOAWAY raced the request): safe to send again.
      this.retried = true;
      this.start();
      return;
    }
    this.finish(this.statusFromReset(rst));
  }

  /** The status of a stream that closed without trailers, as grpc-js reports it. */
  private statusFromReset(rst: number): UpstreamStatus {
    const error = this.streamError;
    if (error !== undefined && error.code !== "ERR_HTTP2_STREAM_ERROR") {
      // The connection failed or dropped (refused, reset, unreachable).
      const cause = error.cause instanceof Error ? error.cause.message : error.message;
      return {
        code: Status.UNAVAILABLE,
        details: `upstream ${this.upstream.address} unreachable: ${cause}`,
        metadata: [],
      };
    }
    const status = (code: Status, details: string): UpstreamStatus => ({ code, details, metadata: [] });
    switch (rst) {
      case NGHTTP2_NO_ERROR:
        if (this.httpStatus !== 0 && this.httpStatus !== 200) return statusFromHttp(this.httpStatus);
        return status(Status.INTERNAL, "Received RST_STREAM with code 0 (Call ended without gRPC status)");
      case NGHTTP2_REFUSED_STREAM:
        return status(Status.UNAVAILABLE, "Stream refused by server");
      case NGHTTP2_CANCEL:
        return status(Status.CANCELLED, "Call cancelled");
      case NGHTTP2_ENHANCE_YOUR_CALM:
        return status(Status.RESOURCE_EXHAUSTED, "Bandwidth exhausted or memory limit exceeded");
      case NGHTTP2_INADEQUATE_SECURITY:
        return status(Status.PERMISSION_DENIED, "Protocol not secure enough");
      default:
        return status(Status.INTERNAL, `Received RST_STREAM with code ${rst}`);
    }
  }

  private finish(status: UpstreamStatus): void {
    if (this.done) return;
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.listener.onStatus(status);
  }
}
