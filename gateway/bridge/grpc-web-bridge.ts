import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  status as Status,
  type CallOptions,
  type ClientReadableStream,
  type ClientUnaryCall,
  type Metadata,
  type StatusObject,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import { createLogger } from "../../services/shared/ops/logger.js";
import { findPublicMethod, type PublicMethod } from "../public-methods.js";
import { CorsPolicy } from "./cors-policy.js";
import { COMPRESSED_FLAG, FRAME_HEADER_BYTES, MESSAGE_FLAG } from "./grpc-web-framing.js";
import { metadataToHeaders, parseGrpcTimeout, requestMetadata } from "./grpc-web-headers.js";
import { GrpcWebResponseWriter, type GrpcWebEncoding } from "./grpc-web-response.js";
import { decodeGrpcWebText } from "./grpc-web-text.js";
import { StaticFiles } from "./static-files.js";
import { UpstreamPool, type Upstream } from "./upstream-pool.js";

/** Largest request message the bridge forwards, as gRPC's default receive limit. */
export const DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024;

/** What the bridge forwards to, whom it lets call, and what it serves. */
export interface GrpcWebBridgeOptions {
  /** PredictService replicas (host:port), balanced round robin per call. */
  readonly predictAddresses: readonly string[];
  /** RetrainService (host:port). */
  readonly retrainAddress: string;
  /** Origins allowed to call cross-origin; the UI served by the bridge itself needs none. */
  readonly corsOrigins?: readonly string[];
  /** Folder of the built web UI; when absent, only grpc-web is served. */
  readonly webRoot?: string;
  readonly logger?: Logger;
  /** Largest request message in bytes (default 4 MiB); larger ones get RESOURCE_EXHAUSTED. */
  readonly maxRequestBytes?: number;
}

const ENCODINGS: ReadonlyMap<string, GrpcWebEncoding> = new Map([
  ["application/grpc-web", "binary"],
  ["application/grpc-web+proto", "binary"],
  ["application/grpc-web-text", "text"],
  ["application/grpc-web-text+proto", "text"],
]);

/** The media type of a content-type header, lower-cased, without parameters. */
function mediaType(header: string | undefined): string {
  if (header === undefined) return "";
  if (ENCODINGS.has(header)) return header; // the usual, exact spelling
  const semicolon = header.indexOf(";");
  return (semicolon === -1 ? header : header.slice(0, semicolon)).trim().toLowerCase();
}

const identity = (buffer: Buffer): Buffer => buffer;

/** A refusal decided before any upstream call, answered trailers-only. */
class Refusal extends Error {
  constructor(
    readonly code: Status,
    message: string,
  ) {
    super(message);
  }
}

/** The client went away before its request was complete; nothing is left to answer. */
class ClientGone extends Error {}

/** A call that has to be cancelled when the bridge closes. */
interface Cancellable {
  cancel(): void;
}

/**
 * The local stand-in for Envoy's grpc_web gateway, for `npm start` and tests where Envoy is
 * not installed: one HTTP/1.1 port that serves the web UI and translates grpc-web to gRPC
 * for the public methods only. Messages pass through as bytes (never decoded), so the
 * bridge needs no change when the contract's messages do; only public-methods.ts decides
 * what is reachable, as for Envoy.
 */
export class GrpcWebBridge {
  private readonly server: Server;
  private readonly pool: UpstreamPool;
  private readonly cors: CorsPolicy;
  private readonly statics: StaticFiles | undefined;
  private readonly logger: Logger;
  private readonly maxRequestBytes: number;
  private readonly active = new Set<Cancellable>();

  constructor(options: GrpcWebBridgeOptions) {
    this.pool = new UpstreamPool(options.predictAddresses, options.retrainAddress);
    this.cors = new CorsPolicy(options.corsOrigins ?? []);
    this.statics = options.webRoot === undefined ? undefined : new StaticFiles(options.webRoot);
    this.logger = options.logger ?? createLogger("grpc-web-bridge");
    this.maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    // noDelay: every grpc-web answer is complete when written; never wait for more to send.
    this.server = createServer({ noDelay: true }, (req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        this.logger.error({ err: error, url: req.url }, "request handler failed");
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
  }

  /** Starts listening; port 0 picks a free port, returned here. */
  async listen(port: number, host = "127.0.0.1"): Promise<{ port: number; host: string }> {
    this.server.listen(port, host);
    await once(this.server, "listening");
    const address = this.server.address() as AddressInfo;
    this.logger.info({ port: address.port, host }, "grpc-web bridge listening");
    return { port: address.port, host };
  }

  /** Stops accepting, cancels running calls (open streams end with CANCELLED) and closes channels. */
  async close(): Promise<void> {
    const closed = this.server.listening ? once(this.server, "close") : Promise.resolve();
    this.server.close();
    for (const call of [...this.active]) call.cancel();
    this.server.closeAllConnections();
    await closed;
    this.pool.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "/";
    const query = url.indexOf("?");
    const path = query === -1 ? url : url.slice(0, query);
    const method = findPublicMethod(path);
    if (req.method === "OPTIONS") {
      this.preflight(req, res, method);
      return;
    }
    const contentType = mediaType(req.headers["content-type"]);
    if (req.method === "POST" && (contentType.startsWith("application/grpc") || method !== undefined)) {
      await this.grpcWeb(req, res, path, method, contentType);
      return;
    }
    if (this.statics === undefined) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("This bridge serves no web UI");
      return;
    }
    await this.statics.serve(req, res);
  }

  private preflight(req: IncomingMessage, res: ServerResponse, method: PublicMethod | undefined): void {
    if (method === undefined) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("Not a public method");
      return;
    }
    const headers = this.cors.preflightHeaders(req.headers.origin);
    if (headers === undefined) {
      res.writeHead(403, { vary: "Origin", "content-type": "text/plain; charset=utf-8" });
      res.end(`Origin ${req.headers.origin ?? "(none)"} is not allowed; add it to CORS_ORIGINS`);
      return;
    }
    res.writeHead(204, headers).end();
  }

  private async grpcWeb(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    method: PublicMethod | undefined,
    contentType: string,
  ): Promise<void> {
    const encoding = ENCODINGS.get(contentType);
    const writer = new GrpcWebResponseWriter(
      res,
      encoding ?? "binary",
      this.cors.responseHeaders(req.headers.origin),
    );
    if (method === undefined) {
      req.resume();
      writer.end(Status.UNIMPLEMENTED, `${path} is not a public method of this gateway`, [], [], 404);
      this.logger.info({ path, code: Status.UNIMPLEMENTED }, "refused non-public path");
      return;
    }
    if (encoding === undefined) {
      req.resume();
      const accepted = [...ENCODINGS.keys()].join(", ");
      writer.end(
        Status.UNIMPLEMENTED,
        `content-type "${contentType}" is not grpc-web; use one of ${accepted}`,
        [],
        [],
        415,
      );
      return;
    }
    let message: Buffer;
    let options: CallOptions;
    try {
      options = { deadline: this.deadline(req, method) };
      message = this.singleMessage(await this.readBody(req, res, encoding), encoding);
    } catch (error) {
      if (error instanceof ClientGone || writer.closed) return;
      if (!(error instanceof Refusal)) throw error;
      writer.end(error.code, error.message, []);
      this.logger.info({ path, code: error.code, reason: error.message }, "refused grpc-web request");
      return;
    }
    if (writer.closed) return;
    this.forward(req, res, writer, method, message, options);
  }

  /** The call deadline: the client's grpc-timeout, capped by the method's timeout. */
  private deadline(req: IncomingMessage, method: PublicMethod): number {
    const raw = req.headers["grpc-timeout"];
    const header = Array.isArray(raw) ? raw[0] : raw;
    let ms = method.timeoutSeconds > 0 ? method.timeoutSeconds * 1000 : Infinity;
    if (header !== undefined) {
      try {
        ms = Math.min(ms, parseGrpcTimeout(header));
      } catch (error) {
        throw new Refusal(Status.INVALID_ARGUMENT, (error as Error).message);
      }
    }
    return Date.now() + ms;
  }

  /**
   * Reads the body, refusing at once (and closing the connection after the answer) bodies
   * that cannot hold an allowed message, so an oversize upload is never buffered.
   */
  private readBody(req: IncomingMessage, res: ServerResponse, encoding: GrpcWebEncoding): Promise<Buffer> {
    // 5 frame-header bytes; text mode inflates by 4/3 plus padding per chunk.
    const frameLimit = this.maxRequestBytes + FRAME_HEADER_BYTES;
    const rawLimit = encoding === "text" ? Math.ceil((frameLimit * 4) / 3) + 64 : frameLimit;
    return new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let refused = false;
      const refuse = (): void => {
        refused = true;
        chunks.length = 0;
        res.setHeader("connection", "close");
        reject(
          new Refusal(
            Status.RESOURCE_EXHAUSTED,
            `request message exceeds the gateway's limit of ${this.maxRequestBytes} bytes`,
          ),
        );
      };
      if (Number(req.headers["content-length"] ?? NaN) > rawLimit) refuse();
      req.on("data", (chunk: Buffer) => {
        if (refused) return; // drained and dropped
        size += chunk.length;
        if (size > rawLimit) refuse();
        else chunks.push(chunk);
      });
      req.on("end", () =>
        resolve(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks)),
      );
      req.on("error", () => reject(new ClientGone()));
      req.on("close", () => {
        if (!req.complete) reject(new ClientGone());
      });
    });
  }

  /** The one message frame a unary or server-streaming request body must hold. */
  private singleMessage(body: Buffer, encoding: GrpcWebEncoding): Buffer {
    let bytes: Buffer;
    try {
      bytes = encoding === "text" ? decodeGrpcWebText(body.toString("latin1")) : body;
    } catch (error) {
      throw new Refusal(Status.INVALID_ARGUMENT, (error as Error).message);
    }
    // Walk the frame headers without copying: a well-formed body is one message frame.
    let frames = 0;
    let offset = 0;
    while (bytes.length - offset >= FRAME_HEADER_BYTES) {
      const length = bytes.readUInt32BE(offset + 1);
      if (bytes.length - offset - FRAME_HEADER_BYTES < length) break;
      frames++;
      offset += FRAME_HEADER_BYTES + length;
    }
    const trailing = bytes.length - offset;
    if (frames !== 1 || trailing !== 0) {
      throw new Refusal(
        Status.INVALID_ARGUMENT,
        `grpc-web request body must hold exactly one message frame; got ${frames} frame(s)` +
          (trailing > 0 ? ` and ${trailing} trailing byte(s)` : ""),
      );
    }
    const flag = bytes[0] ?? MESSAGE_FLAG;
    if ((flag & COMPRESSED_FLAG) !== 0) {
      throw new Refusal(
        Status.UNIMPLEMENTED,
        "compressed grpc-web messages are not supported; send them uncompressed",
      );
    }
    if (flag !== MESSAGE_FLAG) {
      throw new Refusal(
        Status.INVALID_ARGUMENT,
        `grpc-web request frame flag 0x${flag.toString(16)} is not a message`,
      );
    }
    const length = bytes.length - FRAME_HEADER_BYTES;
    if (length > this.maxRequestBytes) {
      throw new Refusal(
        Status.RESOURCE_EXHAUSTED,
        `request message of ${length} bytes exceeds the gateway's limit of ${this.maxRequestBytes} bytes`,
      );
    }
    return bytes.subarray(FRAME_HEADER_BYTES);
  }

  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    writer: GrpcWebResponseWriter,
    method: PublicMethod,
    message: Buffer,
    options: CallOptions,
  ): void {
    const upstream = this.pool.pick(method.target);
    const started = performance.now();
    const exchange: Exchange = {
      writer,
      res,
      initialMetadata: [],
      finish: (status) => {
        this.active.delete(call);
        writer.end(status.code, status.details, metadataToHeaders(status.metadata), exchange.initialMetadata);
        this.log(method, upstream, status, writer.messagesWritten, started);
      },
      respond: (response, status) => {
        this.active.delete(call);
        const trailers = metadataToHeaders(status.metadata);
        writer.respond(response, status.code, status.details, trailers, exchange.initialMetadata);
        this.log(method, upstream, status, writer.messagesWritten, started);
      },
    };
    const metadata = requestMetadata(req.headers);
    const call = method.serverStreaming
      ? serverStreamCall(upstream, method, message, metadata, options, exchange)
      : unaryCall(upstream, method, message, metadata, options, exchange);
    call.on("metadata", (md: Metadata) => {
      exchange.initialMetadata = metadataToHeaders(md);
    });
    this.active.add(call);
    res.on("close", () => {
      // The client went away before the answer was complete: stop the upstream work.
      if (!res.writableFinished) call.cancel();
    });
  }

  private log(
    method: PublicMethod,
    upstream: Upstream,
    status: StatusObject,
    messages: number,
    started: number,
  ): void {
    // Successful calls are debug: an info line per call would cost more than the call.
    const ok = status.code === Status.OK || status.code === Status.CANCELLED;
    if (ok && !this.logger.isLevelEnabled("debug")) return;
    const entry = {
      path: method.path,
      upstream: upstream.address,
      code: status.code,
      messages,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
    };
    if (ok) this.logger.debug(entry, "grpc-web call");
    else this.logger.warn({ ...entry, details: status.details }, "grpc-web call failed");
  }
}

/** One grpc-web exchange as the upstream call sees it. */
interface Exchange {
  readonly writer: GrpcWebResponseWriter;
  readonly res: ServerResponse;
  /** The upstream's response headers, once they arrive. */
  initialMetadata: [string, string][];
  /** Ends the exchange with the call's status (after any streamed messages). */
  readonly finish: (status: StatusObject) => void;
  /** Ends a unary exchange with its one message and status, in one write. */
  readonly respond: (message: Buffer, status: StatusObject) => void;
}

function unaryCall(
  upstream: Upstream,
  method: PublicMethod,
  message: Buffer,
  metadata: Metadata,
  options: CallOptions,
  exchange: Exchange,
): ClientUnaryCall {
  let response: Buffer | undefined;
  const call = upstream.client.makeUnaryRequest(
    method.path,
    identity,
    identity,
    message,
    metadata,
    options,
    (error, value) => {
      if (error === null) response = value;
    },
  );
  // grpc-js runs the callback before emitting "status", so the message is known here.
  call.on("status", (status: StatusObject) => {
    if (status.code === Status.OK && response !== undefined) exchange.respond(response, status);
    else exchange.finish(status);
  });
  return call;
}

function serverStreamCall(
  upstream: Upstream,
  method: PublicMethod,
  message: Buffer,
  metadata: Metadata,
  options: CallOptions,
  exchange: Exchange,
): ClientReadableStream<Buffer> {
  const call = upstream.client.makeServerStreamRequest(
    method.path,
    identity,
    identity,
    message,
    metadata,
    options,
  );
  call.on("data", (chunk: Buffer) => {
    if (!exchange.writer.writeMessage(chunk, exchange.initialMetadata)) {
      // The browser reads slower than the upstream sends: hold the upstream back.
      call.pause();
      exchange.res.once("drain", () => call.resume());
    }
  });
  // grpc-js emits "status" as soon as it arrives, possibly before buffered "data" (when
  // paused); finish only after both the status and the end of the messages.
  let status: StatusObject | undefined;
  let ended = false;
  const maybeFinish = (): void => {
    if (status !== undefined && ended) exchange.finish(status);
  };
  call.on("end", () => {
    ended = true;
    maybeFinish();
  });
  call.on("status", (s: StatusObject) => {
    status = s;
    maybeFinish();
  });
  // Errors are reported by "status"; without a listener an "error" event would throw.
  call.on("error", () => undefined);
  return call;
}
