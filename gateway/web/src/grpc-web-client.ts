/**
 * The page's grpc-web client: Google's `grpc-web` runtime (the reference implementation,
 * maintained with gRPC) in grpc-web-text mode, with the ts-proto codecs plugged in as its
 * serializer and deserializer, so no generated stubs and no hand-written framing are needed.
 *
 * Why this library: ts-proto's own `outputClientImpl=grpc-web` needs @improbable-eng/grpc-web,
 * which is no longer maintained; Connect's grpc-web transport (@connectrpc/connect-web) only
 * serializes @bufbuild/protobuf descriptors, and even its bare protocol helpers pull
 * @bufbuild/protobuf into the bundle (20 KB gzipped against 10.6 KB for grpc-web). Text mode
 * because grpc-web reads a binary response only once it is complete, and the page follows
 * WatchModelVersions as a long-lived stream; Envoy and the local bridge both speak it.
 *
 * What the library leaves to this adapter: AbortSignal cancellation, a deadline enforced
 * here as well as sent (grpc-timeout), a server stream as an async generator, and every
 * failure as a GrpcWebError (grpc-status.ts) whose code the page's retry logic reads.
 */
import { GrpcWebClientBase, MethodDescriptor as GrpcWebMethod, RpcError, type Metadata } from "grpc-web";
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
  /** Extra request headers (call metadata), e.g. a W3C traceparent. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Where to send calls. */
export interface GrpcWebClientOptions {
  /** Prefix of every path: "" (the page's own origin) in the browser, "http://127.0.0.1:port" elsewhere. */
  readonly baseUrl?: string;
}

/** grpc-web wants a message class; ts-proto messages are plain objects, built by the codecs. */
const PlainMessage = Object as unknown as new () => never;

/** Sends grpc-web calls to one gateway. */
export class GrpcWebClient {
  private readonly baseUrl: string;
  private readonly client = new GrpcWebClientBase({ format: "text" });

  constructor(options: GrpcWebClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? "").replace(/\/+$/, "");
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
      const got = `got ${messages.length}`;
      throw new GrpcWebError(GrpcCode.INTERNAL, `expected exactly one response message, ${got}`, method.path);
    }
    return only;
  }

  /**
   * One request, a stream of responses, yielded as each arrives. The generator throws
   * GrpcWebError when the call ends with a non-OK status or the connection drops; leaving the
   * loop early (break, return) cancels the HTTP request.
   */
  async *serverStream<Req, Res>(
    method: MethodDescriptor<Req, Res>,
    request: Req,
    options: CallOptions = {},
  ): AsyncGenerator<Res, void, undefined> {
    const { path } = method;
    if (options.signal?.aborted === true)
      throw new GrpcWebError(GrpcCode.CANCELLED, `${path} was cancelled`, path);
    const metadata: Metadata = { ...options.metadata };
    if (options.timeoutMs !== undefined) metadata["deadline"] = String(Date.now() + options.timeoutMs);
    // The library's descriptor, with the ts-proto codecs as its (de)serializers.
    const descriptor = new GrpcWebMethod<Req, Res>(
      path,
      "server_streaming",
      PlainMessage,
      PlainMessage,
      (message: Req) => method.requestType.encode(message).finish(),
      (bytes: Uint8Array) => method.responseType.decode(bytes),
    );
    const call = this.client.serverStreaming(this.baseUrl + path, request, metadata, descriptor);

    const queue: Res[] = [];
    let outcome: GrpcWebError | "ok" | undefined;
    let wake = (): void => undefined;
    const end = (result: GrpcWebError | "ok"): void => {
      outcome ??= result;
      wake();
    };
    const stop = (code: number, details: string): void => {
      call.cancel();
      end(new GrpcWebError(code, details, path));
    };
    call.on("data", (message) => {
      sawMessage = true;
      queue.push(message);
      wake();
    });
    // A body that is not grpc-web is reported before the HTTP status is known; the call's
    // HTTP error (or, for a 200 answer, its end) follows and says more.
    let notGrpcWeb: GrpcWebError | undefined;
    call.on("error", (error) => {
      const failure = toGrpcWebError(error, path);
      if (error.message === "Unknown Content-type received.") notGrpcWeb ??= failure;
      else end(failure);
    });
    // A stream cut by a proxy ends without trailers: the library sees a clean end.
    let sawStatus = false;
    let sawMessage = false;
    call.on("status", () => (sawStatus = true));
    call.on("end", () => {
      const cut = sawMessage && !sawStatus;
      end(
        notGrpcWeb ??
          (cut
            ? new GrpcWebError(GrpcCode.UNAVAILABLE, "the response ended without a grpc-status", path)
            : "ok"),
      );
    });
    const onAbort = (): void => stop(GrpcCode.CANCELLED, `${path} was cancelled`);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(
            () => stop(GrpcCode.DEADLINE_EXCEEDED, `${path} took longer than ${options.timeoutMs} ms`),
            options.timeoutMs,
          );
    try {
      for (;;) {
        const next = queue.shift();
        if (next !== undefined) yield next;
        else if (outcome === "ok") return;
        else if (outcome !== undefined) throw outcome;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      if (outcome === undefined) call.cancel(); // the caller stopped reading early
    }
  }
}

/** The library's RpcError (or anything thrown) as the page's GrpcWebError. */
function toGrpcWebError(error: unknown, path: string): GrpcWebError {
  if (!(error instanceof RpcError)) {
    return new GrpcWebError(GrpcCode.UNKNOWN, error instanceof Error ? error.message : String(error), path);
  }
  const metadata = new Map(Object.entries(error.metadata).map(([k, v]) => [k.toLowerCase(), v]));
  // The library reports HTTP failures as UNKNOWN with the status in the text; gRPC maps them.
  const http = /http status code: (\d+)$/.exec(error.message)?.[1];
  if (http === "0") return new GrpcWebError(GrpcCode.UNAVAILABLE, "cannot reach the gateway", path, metadata);
  if (http !== undefined) {
    const code = grpcCodeFromHttpStatus(Number(http));
    return new GrpcWebError(code, `the gateway answered HTTP ${http}`, path, metadata);
  }
  return new GrpcWebError(error.code, error.message === "" ? "no message" : error.message, path, metadata);
}
