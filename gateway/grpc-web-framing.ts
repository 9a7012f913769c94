/**
 * The grpc-web wire format (PROTOCOL-WEB): length-prefixed frames, a flag byte of 0x00 for a
 * message and 0x80 for the trailer block, trailers as "name:value\r\n" lines, the
 * percent-encoding of grpc-message, and the grpc-timeout header. Pure Uint8Array code with no
 * Node APIs: the one implementation the page's client (web/src/grpc-web-client.ts) and the
 * bridge (bridge/) both use.
 */

/** Flag byte of a message frame. */
export const MESSAGE_FLAG = 0x00;
/** Bit set in the flag byte when the message is compressed (grpc-encoding). */
export const COMPRESSED_FLAG = 0x01;
/** Flag byte of the trailer frame that ends a grpc-web response body. */
export const TRAILER_FLAG = 0x80;
/** Bytes before each frame's payload: flag (1) + big-endian length (4). */
export const FRAME_HEADER_BYTES = 5;
/**
 * Largest frame the page accepts (gRPC's default receive limit). A larger declared length
 * means a corrupt or non-grpc-web body, and must not make the page buffer without bound.
 */
export const MAX_FRAME_LENGTH = 4 * 1024 * 1024;

/** One decoded frame. */
export interface GrpcWebFrame {
  readonly flag: number;
  readonly payload: Uint8Array;
}

/** A frame: flag, 4-byte big-endian length, payload. */
export function encodeFrame(flag: number, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  out[0] = flag;
  new DataView(out.buffer).setUint32(1, payload.length, false);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** A message frame around one serialized protobuf message. */
export function encodeMessageFrame(message: Uint8Array): Uint8Array<ArrayBuffer> {
  return encodeFrame(MESSAGE_FLAG, message);
}

/**
 * The trailer frame: lower-cased "name:value\r\n" lines, grpc-status and grpc-message first.
 * `message` is percent-encoded here; metadata values must already be header-safe ASCII.
 */
export function encodeTrailerFrame(
  status: number,
  message: string,
  metadata: Iterable<readonly [string, string]> = [],
): Uint8Array<ArrayBuffer> {
  return encodeFrame(TRAILER_FLAG, new TextEncoder().encode(trailerBlock(status, message, metadata)));
}

/**
 * The trailer frame's payload as text, for writers that encode it themselves (the bridge
 * writes it straight into its response buffer). ASCII when metadata values are.
 */
export function trailerBlock(
  status: number,
  message: string,
  metadata: Iterable<readonly [string, string]> = [],
): string {
  let block = `grpc-status:${status}\r\n`;
  if (message !== "") block += `grpc-message:${encodeGrpcMessage(message)}\r\n`;
  for (const [name, value] of metadata) block += `${name.toLowerCase()}:${value}\r\n`;
  return block;
}

/**
 * Parses a trailer frame's payload into (lower-case name, value) pairs, in order. Lines end
 * in CRLF; a bare LF is tolerated.
 */
export function decodeTrailers(payload: Uint8Array): [string, string][] {
  const out: [string, string][] = [];
  for (const line of new TextDecoder().decode(payload).split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`grpc-web trailer line "${line}" has no "name:" prefix`);
    out.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return out;
}

/** The trailers as a map; a repeated name keeps its values joined by ", ", as HTTP does. */
export function trailerMap(payload: Uint8Array): Map<string, string> {
  const trailers = new Map<string, string>();
  for (const [name, value] of decodeTrailers(payload)) {
    const earlier = trailers.get(name);
    trailers.set(name, earlier === undefined ? value : `${earlier}, ${value}`);
  }
  return trailers;
}

/**
 * Splits a byte stream into frames whatever the chunk boundaries: a frame split across
 * chunks, or several frames in one chunk, come out the same. A frame inside one chunk is
 * a view of it (no copy); a frame spanning chunks is copied once into a buffer of its
 * announced size, so large messages arriving in many chunks cost linear time. gRPC's
 * length-prefixed messages over HTTP/2 use the same framing, so the bridge reads
 * upstream answers with it too.
 */
export class FrameDecoder {
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  private flag = 0;
  /** The payload of the frame being assembled, allocated once its header is complete. */
  private payload: Uint8Array | undefined;
  private payloadFilled = 0;

  /** `maxPayloadBytes`: a frame announcing more throws as soon as its header is read. */
  constructor(private readonly maxPayloadBytes = Infinity) {}

  /** Bytes received that do not yet form a whole frame. */
  get pendingBytes(): number {
    return this.payload === undefined ? this.headerFilled : FRAME_HEADER_BYTES + this.payloadFilled;
  }

  /** Adds a chunk and returns every frame it completed. */
  push(chunk: Uint8Array): GrpcWebFrame[] {
    const frames: GrpcWebFrame[] = [];
    let at = 0;
    while (at < chunk.length) {
      const payload = this.payload;
      if (payload !== undefined) {
        const take = Math.min(payload.length - this.payloadFilled, chunk.length - at);
        payload.set(chunk.subarray(at, at + take), this.payloadFilled);
        this.payloadFilled += take;
        at += take;
        if (this.payloadFilled === payload.length) {
          frames.push({ flag: this.flag, payload });
          this.payload = undefined;
        }
        continue;
      }
      if (this.headerFilled === 0 && chunk.length - at >= FRAME_HEADER_BYTES) {
        const length = this.checkedLength(chunk, at);
        const start = at + FRAME_HEADER_BYTES;
        if (chunk.length - start >= length) {
          frames.push({ flag: chunk[at] ?? 0, payload: chunk.subarray(start, start + length) });
          at = start + length;
          continue;
        }
      }
      const take = Math.min(FRAME_HEADER_BYTES - this.headerFilled, chunk.length - at);
      this.header.set(chunk.subarray(at, at + take), this.headerFilled);
      this.headerFilled += take;
      at += take;
      if (this.headerFilled < FRAME_HEADER_BYTES) break;
      this.headerFilled = 0;
      this.flag = this.header[0] ?? 0;
      const length = this.checkedLength(this.header, 0);
      if (length === 0) frames.push({ flag: this.flag, payload: new Uint8Array(0) });
      else {
        this.payload = new Uint8Array(length);
        this.payloadFilled = 0;
      }
    }
    return frames;
  }

  /** The payload length in the frame header at `at`, refused when over the limit. */
  private checkedLength(bytes: Uint8Array, at: number): number {
    const length = new DataView(bytes.buffer, bytes.byteOffset + at, FRAME_HEADER_BYTES).getUint32(1, false);
    if (length > this.maxPayloadBytes) {
      throw new Error(`frame of ${length} bytes exceeds the limit of ${this.maxPayloadBytes} bytes`);
    }
    return length;
  }
}

/** Printable ASCII without "%": a status message that needs no escaping (the usual case). */
const PLAIN_MESSAGE = /^[\x20-\x24\x26-\x7e]*$/;

/**
 * Percent-encodes a status message as gRPC requires for grpc-message: UTF-8 bytes outside
 * printable ASCII, and "%" itself, become %XX.
 */
export function encodeGrpcMessage(message: string): string {
  if (PLAIN_MESSAGE.test(message)) return message;
  let out = "";
  for (const byte of new TextEncoder().encode(message)) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Reverses `encodeGrpcMessage`; malformed escapes are kept literally, as gRPC prescribes. */
export function decodeGrpcMessage(encoded: string): string {
  return encoded.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = new Uint8Array(run.length / 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(3 * i + 1, 3 * i + 3), 16);
    return new TextDecoder().decode(bytes);
  });
}

const TIMEOUT_UNITS: readonly (readonly [string, number])[] = [
  ["m", 1],
  ["S", 1_000],
  ["M", 60_000],
  ["H", 3_600_000],
];

/**
 * The grpc-timeout header for a deadline `ms` milliseconds away: the smallest unit whose
 * amount fits gRPC's 8 digits, rounded up, so a deadline is never shortened.
 */
export function formatGrpcTimeout(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) {
    throw new RangeError(`grpc-timeout must be a finite, non-negative number of ms; got ${ms}`);
  }
  for (const [unit, factor] of TIMEOUT_UNITS) {
    const amount = Math.ceil(ms / factor);
    if (amount < 100_000_000) return `${amount}${unit}`;
  }
  return "99999999H";
}
