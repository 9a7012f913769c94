/**
 * A minimal grpc-web client over fetch(), exactly as a browser speaks to the gateway, for the
 * bridge's tests and benches: it sends one message and collects the answer as raw bytes,
 * reading frames as they arrive (binary or grpc-web-text).
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

/** A grpc-web message frame: flag 0, big-endian length, the message. */
export function encodeMessageFrame(message: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(5 + message.length);
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, 5);
  return out;
}

/** Posts one grpc-web request to `baseUrl + path` and reads the whole answer. */
export async function grpcWebCall(
  baseUrl: string,
  path: string,
  request: Uint8Array,
  options: GrpcWebCallOptions = {},
): Promise<GrpcWebReply> {
  const frame = encodeMessageFrame(request);
  const text = options.text === true;
  const response = await fetch(new URL(path, baseUrl), {
    method: "POST",
    headers: {
      "content-type": text ? "application/grpc-web-text" : "application/grpc-web+proto",
      "x-grpc-web": "1",
      ...options.headers,
    },
    body: text ? Buffer.from(frame).toString("base64") : frame,
    signal: options.signal ?? null,
  });
  const messages: Uint8Array[] = [];
  let trailerLines: [string, string][] | undefined;
  const onFrame = (flag: number | undefined, payload: Buffer): void => {
    if (trailerLines !== undefined) throw new Error("grpc-web response has a frame after its trailers");
    if (flag === 0x80) {
      trailerLines = payload
        .toString("latin1")
        .split("\r\n")
        .filter((line) => line !== "")
        .map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1)]);
    } else if (flag === 0) {
      messages.push(payload);
      options.onMessage?.(payload);
    } else throw new Error(`grpc-web response frame has unexpected flag ${String(flag)}`);
  };
  // Chunks are joined only once a whole frame is there, so a large frame costs linear time.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let base64 = "";
  const reader = response.body?.getReader();
  for (;;) {
    const chunk = reader === undefined ? undefined : await reader.read();
    if (chunk === undefined || chunk.done) break;
    let bytes = Buffer.from(chunk.value);
    if (text) {
      base64 += bytes.toString("latin1");
      const usable = base64.length - (base64.length % 4);
      bytes = Buffer.from(base64.slice(0, usable), "base64");
      base64 = base64.slice(usable);
    }
    pending.push(bytes);
    pendingBytes += bytes.length;
    while (pendingBytes >= 5) {
      if ((pending[0]?.length ?? 0) < 5) pending = [Buffer.concat(pending)];
      const head = pending[0] ?? Buffer.alloc(0);
      const need = 5 + head.readUInt32BE(1);
      if (pendingBytes < need) break;
      const all = pending.length === 1 ? head : Buffer.concat(pending);
      onFrame(all[0], all.subarray(5, need));
      const rest = all.subarray(need);
      pending = rest.length === 0 ? [] : [rest];
      pendingBytes = rest.length;
    }
  }
  if (pendingBytes !== 0 || base64 !== "") throw new Error("grpc-web response ends inside a frame");
  const headerStatus = response.headers.get("grpc-status");
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
    message: decodeURIComponent(get("grpc-message") ?? ""),
    trailers: lines.filter(([n]) => n !== "grpc-status" && n !== "grpc-message"),
    trailersOnly,
  };
}
