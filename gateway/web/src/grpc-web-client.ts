/**
 * A small grpc-web client over fetch: binary `application/grpc-web+proto`, unary calls and
 * server streams read incrementally from the response body, trailers, grpc-timeout, and
 * every failure turned into a GrpcWebError with a status code. It needs no generated
 * service stubs: a method is its path plus the ts-proto codecs of its two messages. Small
 * enough to keep the page's JavaScript light, and identical against Envoy and the bridge.
 */
import {
  COMPRESSED_FLAG,
  decodeGrpcMessage,
  encodeMessageFrame,
  formatGrpcTimeout,
  FrameDecoder,
  MAX_FRAME_LENGTH,
  TRAILER_FLAG,
  trailerMap,
} from "../../grpc-web-framing.js";
import { GrpcCode, grpcCodeFromHttpStatus, GrpcWebError } from "./grpc-status.js";

/** What the client needs of a ts-proto message codec (MessageFns satisfies it). */
export interface MessageCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

/** One RPC: "/package.Service/Method" and its request and response codecs. */
export interface MethodDescriptor<Req, Res> {
  readonly path: string;
  readonly requestType: MessageCodec<Req>;
  readonly responseType: MessageCodec<Res>;
}

/** Per-call options. */
export interface CallOptions {
  /** Deadline in ms from now: sent as grpc-timeout and enforced here (DEADLINE_EXCEEDED). */
  readonly timeoutMs?: number;
  /** Aborting it ends the call with CANCELLED. */
  readonly signal?: AbortSignal;
}

/** The subset of `fetch` the client uses; injectable for tests. */
export type FetchFunction = (url: string, init: RequestInit) => Promise<Response>;

/** Where and how to send calls. */
export interface GrpcWebClientOptions {
  /** Prefix of every path: "" (the page's own origin) in the browser, "http://127.0.0.1:port" in Node. */
  readonly baseUrl?: string;
  readonly fetch?: FetchFunction;
}

const CONTENT_TYPE = "application/grpc-web+proto";

/** Sends grpc-web calls to one gateway. */
export class GrpcWebClient {
  private readonly baseUrl: string;
  private readonly fetchFn: FetchFunction;

  constructor(options: GrpcWebClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? "").replace(/\/+$/, "");
    this.fetchFn = options.fetch ?? ((url, init) => globalThis.fetch(url, init));
  }

  /** One request, one response. Rejects with GrpcWebError on any failure. */
  async unary<Req, Res>(
    method: MethodDescriptor<Req, Res>,
    request: Req,
    options: CallOptions = {},
  ): Promise<Res> {
    const messages: Res[] = [];
    for await (const message of this.serverStream(method, request, options)) messages.push(message);
    const [only] = messages;
    if (only === undefined || messages.length !== 1) {
      throw new GrpcWebError(
        GrpcCode.INTERNAL,
        `expected exactly one response message from ${method.path}, got ${messages.length}`,
        method.path,
      );
    }
    return only;
  }

  /**
   * One request, a stream of responses, yielded as each frame arrives. The generator throws
   * GrpcWebError when the call ends with a non-OK status or the connection drops; leaving the
   * loop early (break, return) aborts the HTTP request.
   */
  async *serverStream<Req, Res>(
    method: MethodDescriptor<Req, Res>,
    request: Req,
    options: CallOptions = {},
  ): AsyncGenerator<Res, void, undefined> {
    const { path } = method;
    const controller = new AbortController();
    let abortedBy: "deadline" | "caller" | undefined;
    const onCallerAbort = (): void => {
      abortedBy ??= "caller";
      controller.abort();
    };
    const abortError = (): GrpcWebError | undefined =>
      abortedBy === "deadline"
        ? new GrpcWebError(
            GrpcCode.DEADLINE_EXCEEDED,
            `${path} took longer than ${options.timeoutMs} ms`,
            path,
          )
        : abortedBy === "caller"
          ? new GrpcWebError(GrpcCode.CANCELLED, `${path} was cancelled`, path)
          : undefined;

    if (options.signal?.aborted === true)
      throw new GrpcWebError(GrpcCode.CANCELLED, `${path} was cancelled`, path);
    options.signal?.addEventListener("abort", onCallerAbort, { once: true });
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            abortedBy ??= "deadline";
            controller.abort();
          }, options.timeoutMs);

    const headers: Record<string, string> = {
      "content-type": CONTENT_TYPE,
      accept: CONTENT_TYPE,
      "x-grpc-web": "1",
    };
    if (options.timeoutMs !== undefined) headers["grpc-timeout"] = formatGrpcTimeout(options.timeoutMs);

    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    try {
      const body = encodeMessageFrame(method.requestType.encode(request).finish());
      let response: Response;
      try {
        response = await this.fetchFn(this.baseUrl + path, {
          method: "POST",
          headers,
          body,
          signal: controller.signal,
          cache: "no-store",
          credentials: "same-origin",
        });
      } catch (error) {
        throw (
          abortError() ??
          new GrpcWebError(GrpcCode.UNAVAILABLE, `cannot reach the gateway (${describe(error)})`, path)
        );
      }

      const headerStatus = response.headers.get("grpc-status");
      if (headerStatus !== null) {
        // Trailers-only response: the status is in the headers and there is no message.
        const metadata = headerMap(response.headers);
        void response.body?.cancel().catch(() => undefined);
        throwIfNotOk(headerStatus, metadata, path);
        return;
      }
      if (response.status !== 200) {
        void response.body?.cancel().catch(() => undefined);
        throw new GrpcWebError(
          grpcCodeFromHttpStatus(response.status),
          `the gateway answered HTTP ${response.status}${response.statusText === "" ? "" : ` ${response.statusText}`}`,
          path,
          headerMap(response.headers),
        );
      }
      const contentType = response.headers.get("content-type") ?? "";
      if (
        !contentType.startsWith("application/grpc-web") ||
        contentType.startsWith("application/grpc-web-text")
      ) {
        void response.body?.cancel().catch(() => undefined);
        throw new GrpcWebError(
          GrpcCode.UNKNOWN,
          `expected a ${CONTENT_TYPE} response, got content-type "${contentType}"`,
          path,
        );
      }
      if (response.body === null) {
        throw new GrpcWebError(GrpcCode.UNAVAILABLE, "the response has no body and no grpc-status", path);
      }

      reader = response.body.getReader();
      const frames = new FrameDecoder(MAX_FRAME_LENGTH);
      let trailers: Map<string, string> | undefined;
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          throw (
            abortError() ??
            new GrpcWebError(GrpcCode.UNAVAILABLE, `the connection dropped (${describe(error)})`, path)
          );
        }
        if (chunk.done) break;
        let completed;
        try {
          completed = frames.push(chunk.value);
        } catch (error) {
          throw new GrpcWebError(GrpcCode.INTERNAL, describe(error), path);
        }
        for (const frame of completed) {
          if (trailers !== undefined) {
            throw new GrpcWebError(GrpcCode.INTERNAL, "the server sent a frame after the trailers", path);
          }
          if ((frame.flag & TRAILER_FLAG) !== 0) {
            try {
              trailers = trailerMap(frame.payload);
            } catch (error) {
              throw new GrpcWebError(GrpcCode.INTERNAL, describe(error), path);
            }
            continue;
          }
          if ((frame.flag & COMPRESSED_FLAG) !== 0) {
            throw new GrpcWebError(
              GrpcCode.INTERNAL,
              "the server sent a compressed message although this client accepts no grpc-encoding",
              path,
            );
          }
          let message: Res;
          try {
            message = method.responseType.decode(frame.payload);
          } catch (error) {
            throw new GrpcWebError(
              GrpcCode.INTERNAL,
              `cannot decode the response message (${describe(error)})`,
              path,
            );
          }
          yield message;
        }
      }
      if (trailers === undefined) {
        // A proxy or server that went away mid-call closes the body without trailers.
        throw new GrpcWebError(
          GrpcCode.UNAVAILABLE,
          frames.pendingBytes > 0
            ? `the response ended inside a frame (${frames.pendingBytes} bytes left over)`
            : "the response ended without a grpc-status",
          path,
        );
      }
      const status = trailers.get("grpc-status");
      if (status === undefined) {
        throw new GrpcWebError(GrpcCode.INTERNAL, "the trailers carry no grpc-status", path, trailers);
      }
      throwIfNotOk(status, trailers, path);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      options.signal?.removeEventListener("abort", onCallerAbort);
      // Ends the HTTP request if the caller stopped reading early; harmless after a clean end.
      controller.abort();
      if (reader !== undefined) void reader.cancel().catch(() => undefined);
    }
  }
}

function throwIfNotOk(status: string, metadata: Map<string, string>, path: string): void {
  const code = /^\d+$/.test(status.trim()) ? Number(status) : GrpcCode.UNKNOWN;
  if (code === GrpcCode.OK) return;
  const details = decodeGrpcMessage(metadata.get("grpc-message") ?? "");
  throw new GrpcWebError(
    code,
    details === ""
      ? code === GrpcCode.UNKNOWN
        ? `unreadable grpc-status "${status}"`
        : "no message"
      : details,
    path,
    metadata,
  );
}

function headerMap(headers: Headers): Map<string, string> {
  const map = new Map<string, string>();
  headers.forEach((value, name) => map.set(name.toLowerCase(), value));
  return map;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
