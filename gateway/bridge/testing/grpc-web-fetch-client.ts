import {
  decodeGrpcMessage,
  decodeTrailers,
  encodeMessageFrame,
  FrameDecoder,
  MESSAGE_FLAG,
  TRAILER_FLAG,
} from "../../grpc-web-framing.js";

/**
 * A minimal grpc-web client over fetch(), exactly as a browser speaks to the gateway, for the
 * bridge's tests and latency measurement. It sends one message and collects the answer as
 * raw bytes, reading frames as they arrive.
 */

/** Everything a grpc-web call answered. */
export interface GrpcWebReply {
  readonly httpStatus: number;
  readonly headers: Headers;
  /** Response messages, serialized, in order. */
  readonly messages: Uint8Array[];
  /** gRPC status code, from the trailer frame or (trailers-only) the headers. */
  readonly code: number;
  /** Decoded grpc-message. */
  readonly message: string;
  /** Trailer frame lines other than grpc-status/grpc-message. */
  readonly trailers: [string, string][];
  /** True when the status came in the HTTP headers with no body. */
  readonly trailersOnly: boolean;
}

/** Options of one call. */
export interface GrpcWebCallOptions {
  /** Use application/grpc-web-text (base64) instead of binary. */
  readonly text?: boolean;
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** Called for each message as its frame arrives (streams). */
  readonly onMessage?: (message: Uint8Array) => void;
}

/** Posts one grpc-web request to `baseUrl + path` and reads the whole answer. */
export async function grpcWebCall(
  baseUrl: string,
  path: string,
  request: Uint8Array,
  options: GrpcWebCallOptions = {},
): Promise<GrpcWebReply> {
  const frame = encodeMessageFrame(request);
  const response = await fetch(new URL(path, baseUrl), {
    method: "POST",
    headers: {
      "content-type": options.text === true ? "application/grpc-web-text" : "application/grpc-web+proto",
      "x-grpc-web": "1",
      ...options.headers,
    },
    body: options.text === true ? Buffer.from(frame).toString("base64") : frame,
    signal: options.signal ?? null,
  });
  const headerStatus = response.headers.get("grpc-status");
  const messages: Uint8Array[] = [];
  let trailerLines: [string, string][] | undefined;
  const decoder = new FrameDecoder();
  const onFrames = (bytes: Uint8Array): void => {
    for (const f of decoder.push(bytes)) {
      if (f.flag === MESSAGE_FLAG) {
        if (trailerLines !== undefined) throw new Error("grpc-web response has a message after its trailers");
        messages.push(f.payload);
        options.onMessage?.(f.payload);
      } else if (f.flag === TRAILER_FLAG) {
        trailerLines = decodeTrailers(f.payload);
      } else {
        throw new Error(`grpc-web response frame has unexpected flag 0x${f.flag.toString(16)}`);
      }
    }
  };
  let text = "";
  const reader = response.body?.getReader();
  for (;;) {
    const chunk = reader === undefined ? undefined : await reader.read();
    if (chunk === undefined || chunk.done) break;
    if (options.text !== true) {
      onFrames(chunk.value);
      continue;
    }
    // Decode whole 4-character groups; each frame is padded on its own by the bridge.
    text += new TextDecoder().decode(chunk.value);
    const usable = text.length - (text.length % 4);
    onFrames(Buffer.from(text.slice(0, usable), "base64"));
    text = text.slice(usable);
  }
  if (decoder.pendingBytes !== 0 || text !== "") throw new Error("grpc-web response ends inside a frame");
  const trailersOnly = headerStatus !== null && trailerLines === undefined && messages.length === 0;
  const lines: [string, string][] = trailerLines ?? [];
  const get = (name: string): string | null =>
    trailersOnly ? response.headers.get(name) : (lines.find(([n]) => n === name)?.[1] ?? null);
  const code = get("grpc-status");
  if (code === null) throw new Error(`grpc-web response (HTTP ${response.status}) carries no grpc-status`);
  return {
    httpStatus: response.status,
    headers: response.headers,
    messages,
    code: Number(code),
    message: decodeGrpcMessage(get("grpc-message") ?? ""),
    trailers: lines.filter(([n]) => n !== "grpc-status" && n !== "grpc-message"),
    trailersOnly,
  };
}
