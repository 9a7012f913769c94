import type { ServerResponse } from "node:http";
import {
  encodeGrpcMessage,
  encodeMessageFrame,
  encodeTrailerFrame,
  FRAME_HEADER_BYTES,
  MESSAGE_FLAG,
  TRAILER_FLAG,
  trailerBlock,
} from "../grpc-web-framing.js";
import { isHttpOnlyHeader } from "./grpc-web-headers.js";
import { encodeGrpcWebText } from "./grpc-web-text.js";

/** Body encoding of one exchange, chosen by the request's content type. */
export type GrpcWebEncoding = "binary" | "text";

const CONTENT_TYPE: Record<GrpcWebEncoding, string> = {
  binary: "application/grpc-web+proto",
  text: "application/grpc-web-text+proto",
};

const NOT_HEADER_SAFE = /[^\t\x20-\x7e]/;

/**
 * Whether a metadata entry may become a response header or trailer line: not an HTTP-only
 * name, and a value of printable ASCII (anything else is dropped rather than failing the call).
 */
function forwardable(name: string, value: string): boolean {
  return !isHttpOnlyHeader(name) && !NOT_HEADER_SAFE.test(value);
}

function forwardableEntries(
  metadata: readonly (readonly [string, string])[],
): (readonly [string, string])[] | readonly (readonly [string, string])[] {
  if (metadata.length === 0) return metadata;
  return metadata.filter(([name, value]) => forwardable(name, value));
}

/**
 * Writes one grpc-web response: headers with the first message, one frame per message
 * flushed at once, and a trailer frame at the end; or, when the call ends before any
 * message, a trailers-only response (grpc-status and grpc-message as HTTP headers, empty
 * body), which is what grpc-web clients expect for early errors. A unary answer goes out as
 * one write with a content-length (`respond`). Writes after the client has gone are dropped.
 */
export class GrpcWebResponseWriter {
  private headersWritten = false;
  private messages = 0;

  constructor(
    private readonly res: ServerResponse,
    private readonly encoding: GrpcWebEncoding,
    /** Headers every answer carries (CORS). */
    private readonly baseHeaders: Readonly<Record<string, string>>,
  ) {}

  /** Number of messages written so far. */
  get messagesWritten(): number {
    return this.messages;
  }

  /** Whether the response is complete or the client is gone. */
  get closed(): boolean {
    return this.res.writableEnded || this.res.destroyed;
  }

  /**
   * Writes one message frame (and, before the first, the headers with the call's initial
   * metadata). Returns false when the socket buffer is full: pause the source until "drain".
   */
  writeMessage(message: Uint8Array, initialMetadata: readonly (readonly [string, string])[]): boolean {
    if (this.closed) return true;
    if (!this.headersWritten) {
      this.res.writeHead(200, this.headers(initialMetadata));
      this.headersWritten = true;
    }
    this.messages++;
    return this.write(encodeMessageFrame(message));
  }

  /**
   * A whole unary answer: headers, the message frame and the trailer frame in a single
   * write with a content-length. One write means one TCP segment for the browser (no
   * chunked encoding, no separate trailer packet) and the least work per call.
   */
  respond(
    message: Uint8Array,
    code: number,
    details: string,
    metadata: readonly (readonly [string, string])[],
    initialMetadata: readonly (readonly [string, string])[],
  ): void {
    if (this.closed) return;
    if (this.headersWritten) {
      this.writeMessage(message, initialMetadata);
      this.end(code, details, metadata);
      return;
    }
    const block = trailerBlock(code, details, forwardableEntries(metadata));
    const body = Buffer.allocUnsafe(2 * FRAME_HEADER_BYTES + message.length + block.length);
    body[0] = MESSAGE_FLAG;
    body.writeUInt32BE(message.length, 1);
    body.set(message, FRAME_HEADER_BYTES);
    const trailerAt = FRAME_HEADER_BYTES + message.length;
    body[trailerAt] = TRAILER_FLAG;
    body.writeUInt32BE(block.length, trailerAt + 1);
    // Header-safe ASCII only (forwardable values, percent-encoded message): latin1 is exact.
    body.write(block, trailerAt + FRAME_HEADER_BYTES, "latin1");
    const headers = this.headers(initialMetadata);
    this.headersWritten = true;
    this.messages++;
    if (this.encoding === "text") {
      // Each frame padded on its own, as the streaming path writes them.
      const text =
        encodeGrpcWebText(body.subarray(0, trailerAt)) + encodeGrpcWebText(body.subarray(trailerAt));
      headers["content-length"] = String(text.length);
      this.res.writeHead(200, headers).end(text, "latin1");
      return;
    }
    headers["content-length"] = String(body.length);
    this.res.writeHead(200, headers).end(body);
  }

  /**
   * Ends the response with the call's status. Before any message this is a trailers-only
   * response carrying `httpStatus` (200 for every gRPC status; 404/415 only for requests the
   * bridge refuses outright).
   */
  end(
    code: number,
    message: string,
    metadata: readonly (readonly [string, string])[],
    initialMetadata: readonly (readonly [string, string])[] = [],
    httpStatus = 200,
  ): void {
    if (this.closed) return;
    if (!this.headersWritten) {
      const headers = this.headers(initialMetadata, metadata);
      headers["grpc-status"] = String(code);
      if (message !== "") headers["grpc-message"] = encodeGrpcMessage(message);
      headers["content-length"] = "0";
      this.res.writeHead(httpStatus, headers);
      this.headersWritten = true;
      this.res.end();
      return;
    }
    this.res.end(this.encoded(encodeTrailerFrame(code, message, forwardableEntries(metadata))));
  }

  private write(frame: Uint8Array): boolean {
    return this.res.write(this.encoded(frame));
  }

  private encoded(frame: Uint8Array): Uint8Array | string {
    return this.encoding === "text" ? encodeGrpcWebText(frame) : frame;
  }

  /** Response headers: forwardable metadata (repeated names comma-joined), CORS, content type. */
  private headers(
    metadata: readonly (readonly [string, string])[],
    more: readonly (readonly [string, string])[] = [],
  ): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const list of [metadata, more]) {
      for (const [name, value] of list) {
        if (!forwardable(name, value)) continue;
        const previous = Object.hasOwn(headers, name) ? headers[name] : undefined;
        headers[name] = previous === undefined ? value : `${previous}, ${value}`;
      }
    }
    Object.assign(headers, this.baseHeaders);
    headers["content-type"] = CONTENT_TYPE[this.encoding];
    return headers;
  }
}
