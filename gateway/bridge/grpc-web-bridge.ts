import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { Metadata, status as Status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { createLogger } from "../../services/shared/ops/logger.js";
import { startCallSpan } from "./bridge-tracing.js";
import { findPublicMethod, RETRIED_BY_GATEWAY, type PublicMethod } from "../public-methods.js";
import type { BridgeTls } from "./bridge-tls.js";
import { CorsPolicy } from "./cors-policy.js";
import { bearerFromCookie, serveSessionPath } from "./session-cookie.js";
import { AuthError } from "../../services/shared/auth/auth-error.js";
import type { CallerAuthenticator } from "../../services/shared/auth/caller-authenticator.js";
import { parseGrpcTimeout, Refusal, requestHeaders, withForwardedFor } from "./grpc-web-headers.js";
import { pageSecurityHeaders } from "./page-security-headers.js";
import { StaticFiles } from "./static-files.js";
import {
  answerTrailersOnly,
  encodeGrpcMessage,
  FRAME_HEADER_BYTES,
  ProxiedCall,
  RetryThrottle,
  Upstream,
} from "./grpc-web-proxy.js";

/** Largest request message the bridge forwards (larger ones: RESOURCE_EXHAUSTED), as gRPC's default receive limit. */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

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
  /** Verifies the session cookie for /auth/whoami; undefined when authentication is off. */
  readonly auth?: CallerAuthenticator | undefined;
  /** HTTPS for the page and grpc-web, and TLS towards the services; absent, plaintext both ways. */
  readonly tls?: BridgeTls;
}

type GrpcWebEncoding = "binary" | "text";
const MESSAGE_FLAG = 0x00;
const COMPRESSED_FLAG = 0x01;

const ENCODINGS: ReadonlyMap<string, GrpcWebEncoding> = new Map([
  ["application/grpc-web", "binary"],
  ["application/grpc-web+proto", "binary"],
  ["application/grpc-web-text", "text"],
  ["application/grpc-web-text+proto", "text"],
]);

/** The media type of a content-type header, lower-cased, without parameters. */
function mediaType(header: string | undefined): string {
  if (header === undefined) return "";
  const semicolon = header.indexOf(";");
  return (semicolon === -1 ? header : header.slice(0, semicolon)).trim().toLowerCase();
}

/** The host names a bridge listening on loopback answers to (any port). */
const LOOPBACK_NAMES: ReadonlySet<string> = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** The host name of a Host header, lower-cased, without its port ("" when absent). */
function hostName(header: string | undefined): string {
  const host = (header ?? "").trim().toLowerCase();
  if (host.startsWith("[")) return host.slice(0, host.indexOf("]") + 1);
  const colon = host.lastIndexOf(":");
  return colon === -1 ? host : host.slice(0, colon);
}

/** The longest delay a Node timer keeps (2^31 − 1 ms); a longer one fires at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** The client went away before its request was complete; nothing is left to answer. */
class ClientGone extends Error {}

/**
 * The local stand-in for Envoy's grpc_web gateway, for `npm start` and tests where Envoy is
 * not installed: one HTTP/1.1 port that serves the web UI and forwards grpc-web to gRPC for
 * the public methods only (grpc-web-proxy.ts). Messages pass through as bytes, so the bridge
 * needs no change when the contract's messages do; only public-methods.ts decides what is
 * reachable, as for Envoy.
 */
export class GrpcWebBridge {
  private readonly server: Server;
  private readonly predict: readonly Upstream[];
  private readonly retrain: Upstream;
  private nextPredict = 0;
  /** Throttles the retries of RETRIED_BY_GATEWAY methods (all of them go to Retrain). */
  private readonly retryThrottle = new RetryThrottle();
  private readonly cors: CorsPolicy;
  private readonly statics: StaticFiles | undefined;
  private readonly logger: Logger;
  private readonly active = new Set<ProxiedCall>();
  private readonly auth: CallerAuthenticator | undefined;
  /** Content-Security-Policy and friends for the page and the session paths. */
  private readonly pageHeaders: Readonly<Record<string, string>>;
  /** Set by listen() on a loopback address: only requests addressed to a loopback name are answered. */
  private loopbackOnly = false;

  constructor(options: GrpcWebBridgeOptions) {
    this.auth = options.auth;
    const tls = options.tls;
    this.pageHeaders = pageSecurityHeaders(tls?.serverEnabled === true);
    const material = tls?.upstreamEnabled === true ? () => tls.upstreamMaterial() : undefined;
    if (options.predictAddresses.length === 0) throw new Error("at least one Predict address is required");
    this.predict = options.predictAddresses.map((address) => new Upstream(address, material));
    this.retrain = new Upstream(options.retrainAddress, material);
    this.cors = new CorsPolicy(options.corsOrigins ?? []);
    this.statics = options.webRoot === undefined ? undefined : new StaticFiles(options.webRoot);
    this.logger = options.logger ?? createLogger("grpc-web-bridge");
    // noDelay: every grpc-web answer is complete when written; never wait for more to send.
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((error: unknown) => {
        this.logger.error({ err: error, url: req.url }, "request handler failed");
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    };
    if (tls?.serverEnabled === true) {
      const https = createHttpsServer({ noDelay: true, ...tls.serverMaterial() }, handler);
      // A renewed certificate applies to new handshakes; open connections keep theirs.
      tls.onServerRotation((material) => https.setSecureContext(material));
      this.server = https;
    } else {
      this.server = createServer({ noDelay: true }, handler);
    }
  }

  /** Starts listening; port 0 picks a free port, returned here. */
  async listen(port: number, host = "127.0.0.1"): Promise<{ port: number; host: string }> {
    this.server.listen(port, host);
    await once(this.server, "listening");
    this.loopbackOnly = LOOPBACK_NAMES.has(host.includes(":") ? `[${host}]` : host);
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
    for (const upstream of [...this.predict, this.retrain]) upstream.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.loopbackOnly && !LOOPBACK_NAMES.has(hostName(req.headers.host))) {
      // A page from another site whose name was made to resolve to 127.0.0.1 (DNS rebinding)
      // would reach a loopback-only bridge as same-origin; its Host header gives it away.
      res.writeHead(421, {
        "content-type": "text/plain; charset=utf-8",
        "x-content-type-options": "nosniff",
      });
      res.end(
        "This gateway listens on a loopback address and answers only requests addressed to localhost, 127.0.0.1 or [::1]; set GATEWAY_HOST to serve other names.\n",
      );
      return;
    }
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
    for (const [name, value] of Object.entries(this.pageHeaders)) res.setHeader(name, value);
    if (method === undefined && (await serveSessionPath(req, res, path, this.auth))) return;
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
    const headers = {
      ...this.cors.responseHeaders(req.headers.origin),
      "content-type": encoding === "text" ? "application/grpc-web-text+proto" : "application/grpc-web+proto",
    };
    const refuse = (code: Status, message: string, httpStatus = 200): void => {
      answerTrailersOnly(res, { code, message: encodeGrpcMessage(message) }, headers, httpStatus);
      this.logger.info({ path, code, reason: message }, "refused grpc-web request");
    };
    if (method === undefined) {
      req.resume();
      refuse(Status.UNIMPLEMENTED, `${path} is not a public method of this gateway`, 404);
      return;
    }
    if (encoding === undefined) {
      req.resume();
      const accepted = [...ENCODINGS.keys()].join(", ");
      refuse(
        Status.UNIMPLEMENTED,
        `content-type "${contentType}" is not grpc-web; use one of ${accepted}`,
        415,
      );
      return;
    }
    let body: Buffer;
    let timeoutMs: number;
    let metadata: Record<string, string>;
    try {
      timeoutMs = this.timeout(req, method);
      metadata = this.metadata(req);
      body = this.singleFrame(await this.readBody(req, res, encoding), encoding);
      if (method.signedInAdminOnly) await this.requireSignedInAdmin(method, metadata);
    } catch (error) {
      if (error instanceof ClientGone || res.writableEnded || res.destroyed) return;
      if (!(error instanceof Refusal)) throw error;
      refuse(error.code, error.message);
      return;
    }
    if (res.writableEnded || res.destroyed) return;
    const upstream = this.pick(method);
    const endSpan = startCallSpan(method.path, metadata);
    const started = performance.now();
    const call = new ProxiedCall(
      upstream,
      {
        path: method.path,
        metadata,
        body,
        timeoutMs,
        serverStreaming: method.serverStreaming,
        retry: RETRIED_BY_GATEWAY.has(method.path) ? this.retryThrottle : undefined,
        text: encoding === "text",
        baseHeaders: headers,
      },
      res,
    );
    this.active.add(call);
    call.onEnd = (code, message) => {
      this.active.delete(call);
      endSpan(code);
      // Successful calls are debug: an info line per call would cost more than the call.
      const entry = { path, upstream: upstream.address, code, ms: Math.round(performance.now() - started) };
      if (code === Status.OK || code === Status.CANCELLED) this.logger.debug(entry, "grpc-web call");
      else this.logger.warn({ ...entry, details: message, cause: call.detail }, "grpc-web call failed");
    };
  }

  /** The upstream for the next call: Predict replicas round robin, as Envoy's cluster. */
  private pick(method: PublicMethod): Upstream {
    if (method.target === "retrain") return this.retrain;
    const upstream = this.predict[this.nextPredict % this.predict.length] ?? this.retrain;
    this.nextPredict = (this.nextPredict + 1) % this.predict.length;
    return upstream;
  }

  /**
   * The call's metadata from the request headers, with the browser's address appended to
   * x-forwarded-for; a header gRPC cannot carry is refused.
   */
  private metadata(req: IncomingMessage): Record<string, string> {
    const metadata = withForwardedFor(requestHeaders(req.headers), req.socket.remoteAddress);
    // What Envoy's oauth2 filter does (forward_bearer_token): the session cookie's token
    // goes upstream as the bearer token, unless the caller sent its own.
    const bearer = metadata["authorization"] === undefined ? bearerFromCookie(req.headers.cookie) : undefined;
    if (bearer !== undefined) metadata["authorization"] = `Bearer ${bearer}`;
    return metadata;
  }

  /**
   * What Envoy's jwt_authn and Lua filters do for the admin-only public methods: the bearer
   * token must verify as an access token (JWT) holding the admin role. The break-glass
   * ADMIN_TOKEN is no JWT, so it never passes the gateway; without sign-in nothing does.
   */
  private async requireSignedInAdmin(method: PublicMethod, metadata: Record<string, string>): Promise<void> {
    if (this.auth === undefined) {
      throw new Refusal(
        Status.PERMISSION_DENIED,
        `${method.method} through the gateway needs sign-in (AUTH_ISSUER) and the admin role; without sign-in, call RetrainService with grpcurl and ADMIN_TOKEN (README: "A change is pending: how to judge it")`,
      );
    }
    const grpcMetadata = new Metadata();
    const authorization = metadata["authorization"];
    if (authorization !== undefined) grpcMetadata.set("authorization", authorization);
    try {
      await this.auth.authenticate(grpcMetadata, method.method, "admin");
    } catch (error) {
      if (error instanceof AuthError) {
        const refused = error.toStatus();
        throw new Refusal(refused.code, refused.details);
      }
      throw error;
    }
  }

  /**
   * Milliseconds the call may take: the client's grpc-timeout, capped by the method's timeout
   * (Infinity for a stream without one and no client deadline).
   */
  private timeout(req: IncomingMessage, method: PublicMethod): number {
    const raw = req.headers["grpc-timeout"];
    const header = Array.isArray(raw) ? raw[0] : raw;
    const ms = method.timeoutSeconds > 0 ? method.timeoutSeconds * 1000 : Infinity;
    if (header === undefined) return ms;
    // A timer cannot wait longer (Node fires a longer one at once); 24.8 days is no deadline
    // anyone means more precisely.
    return Math.min(ms, parseGrpcTimeout(header), MAX_TIMER_MS);
  }

  /**
   * Reads the body, refusing at once (and closing the connection after the answer) bodies
   * that cannot hold an allowed message, so an oversize upload is never buffered.
   */
  private readBody(req: IncomingMessage, res: ServerResponse, encoding: GrpcWebEncoding): Promise<Buffer> {
    // 5 frame-header bytes; text mode inflates by 4/3 plus padding.
    const frameLimit = MAX_REQUEST_BYTES + FRAME_HEADER_BYTES;
    const rawLimit = encoding === "text" ? Math.ceil((frameLimit * 4) / 3) + 64 : frameLimit;
    return new Promise<Buffer>((resolve, reject) => {
      // One buffer grown by doubling: a Buffer per chunk costs ~200 bytes of heap, so 1-byte chunks
      // would turn 4 MiB into hundreds of MB.
      let body = Buffer.alloc(0);
      let size = 0;
      let refused = false;
      const refuse = (): void => {
        refused = true;
        body = Buffer.alloc(0);
        res.setHeader("connection", "close");
        reject(
          new Refusal(
            Status.RESOURCE_EXHAUSTED,
            `request message exceeds the gateway's limit of ${MAX_REQUEST_BYTES} bytes`,
          ),
        );
      };
      if (Number(req.headers["content-length"] ?? NaN) > rawLimit) refuse();
      req.on("data", (chunk: Buffer) => {
        if (!refused && size + chunk.length > rawLimit) refuse();
        if (refused) return; // drained and dropped
        if (size + chunk.length > body.length)
          body = Buffer.concat([body.subarray(0, size)], Math.min(rawLimit, 2 * (size + chunk.length)));
        size += chunk.copy(body, size);
      });
      req.on("end", () => resolve(body.subarray(0, size)));
      req.on("error", () => reject(new ClientGone()));
      req.on("close", () => {
        if (!req.complete) reject(new ClientGone());
      });
    });
  }

  /**
   * The one message frame a unary or server-streaming request body must hold. It is
   * forwarded as is: a grpc-web message frame is a gRPC length-prefixed message.
   */
  private singleFrame(body: Buffer, encoding: GrpcWebEncoding): Buffer {
    const bytes = encoding === "text" ? decodeGrpcWebText(body.toString("latin1")) : body;
    const declared = bytes.length >= FRAME_HEADER_BYTES ? bytes.readUInt32BE(1) : -1;
    if (declared > MAX_REQUEST_BYTES) {
      throw new Refusal(
        Status.RESOURCE_EXHAUSTED,
        `request message of ${declared} bytes exceeds the gateway's limit of ${MAX_REQUEST_BYTES} bytes`,
      );
    }
    if (declared < 0 || bytes.length !== FRAME_HEADER_BYTES + declared) {
      const frames =
        declared >= 0 && bytes.length > FRAME_HEADER_BYTES + declared ? "more than one" : "no whole";
      throw new Refusal(
        Status.INVALID_ARGUMENT,
        `grpc-web request body must hold exactly one message frame; got ${frames} frame in ${bytes.length} bytes` +
          (declared >= 0 ? ` (the first announces ${declared} bytes)` : ""),
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
    return bytes;
  }
}

const BASE64_RUN = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * A grpc-web-text body: base64, possibly several independently padded runs back to back
 * (whitespace ignored); anything else is refused with INVALID_ARGUMENT saying where.
 */
function decodeGrpcWebText(body: string): Buffer {
  const bytes = Buffer.allocUnsafe(body.length);
  let offset = 0;
  let length = 0;
  // Runs one at a time (matchAll, not split): millions of "AA==" must not become as many objects.
  for (const [run] of body.replace(/\s+/g, "").matchAll(/[^=]*=*/g)) {
    if (!BASE64_RUN.test(run) || run.length % 4 === 1 || (run.endsWith("=") && run.length % 4 !== 0)) {
      const bad = run.search(/[^A-Za-z0-9+/=]/);
      const where =
        bad === -1 ? `a run of ${run.length} characters at offset ${offset}` : `offset ${offset + bad}`;
      throw new Refusal(Status.INVALID_ARGUMENT, `grpc-web-text body is not base64: ${where}`);
    }
    length += bytes.write(run, length, "base64");
    offset += run.length;
  }
  return bytes.subarray(0, length);
}
