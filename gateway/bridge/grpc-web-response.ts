import type { ServerResponse } from "node:http";
import { encodeGrpcMessage, encodeMessageFrame, encodeTrailerFrame } from "./grpc-web-framing.js";
import { isHttpOnlyHeader } from "./grpc-web-headers.js";
import { encodeGrpcWebText } from "./grpc-web-text.js";

/** Body encoding of one exchange, chosen by the request's content type. */
export type GrpcWebEncoding = "binary" | "text";

const CONTENT_TYPE: Record<GrpcWebEncoding, string> = {
  binary: "application/grpc-web+proto",
  text: "application/grpc-web-text+proto",
};

/**
 * Whether a metadata entry may become a response header or trailer line: not an HTTP-only
 * name, and a value of printable ASCII (anything else is dropped rather than failing the call).
 */
function forwardable([name, value]: readonly [string, string]): boolean {
  return !isHttpOnlyHeader(name) && !/[^\t\x20-\x7e]/.test(value);
}

/**
 * Writes one grpc-web response: headers with the first message, one frame per message
 * flushed at once, and a trailer frame at the end; or, when the call ends before any
 * message, a trailers-only response (grpc-status and grpc-message as HTTP headers, empty
 * body), which is what grpc-web clients expect for early errors. Writes after the client
 * has gone are dropped.
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
      const headers = this.headers([...initialMetadata, ...metadata]);
      headers["grpc-status"] = String(code);
      if (message !== "") headers["grpc-message"] = encodeGrpcMessage(message);
      headers["content-length"] = "0";
      this.res.writeHead(httpStatus, headers);
      this.headersWritten = true;
      this.res.end();
      return;
    }
    this.write(encodeTrailerFrame(code, message, metadata.filter(forwardable)));
    this.res.end();
  }

  private write(frame: Uint8Array): boolean {
    return this.res.write(this.encoding === "text" ? encodeGrpcWebText(frame) : frame);
  }

  private headers(metadata: readonly (readonly [string, string])[]): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const [name, value] of metadata.filter(forwardable)) {
      headers[name] = name in headers ? `${headers[name] ?? ""}, ${value}` : value;
    }
    return { ...headers, ...this.baseHeaders, "content-type": CONTENT_TYPE[this.encoding] };
  }
}
