/**
 * The grpc-web wire format (PROTOCOL-WEB): length-prefixed frames, a flag byte of 0x00 for a
 * message and 0x80 for the trailer block, trailers as "name:value\r\n" lines, and the
 * percent-encoding of grpc-message. Pure Uint8Array code with no Node APIs, so the browser
 * client can share it with the bridge.
 */

/** Flag byte of a message frame. */
export const MESSAGE_FLAG = 0x00;
/** Bit set in the flag byte when the message is compressed (grpc-encoding). */
export const COMPRESSED_FLAG = 0x01;
/** Flag byte of the trailer frame that ends a grpc-web response body. */
export const TRAILER_FLAG = 0x80;
/** Bytes before each frame's payload: flag (1) + big-endian length (4). */
export const FRAME_HEADER_BYTES = 5;

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

/** Parses a trailer frame's payload into (lower-case name, value) pairs, in order. */
export function decodeTrailers(payload: Uint8Array): [string, string][] {
  const out: [string, string][] = [];
  for (const line of new TextDecoder().decode(payload).split("\r\n")) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`grpc-web trailer line "${line}" has no "name:" prefix`);
    out.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return out;
}

/**
 * Splits a byte stream into frames whatever the chunk boundaries: a frame split across
 * chunks, or several frames in one chunk, come out the same.
 */
export class FrameDecoder {
  private buffer: Uint8Array = new Uint8Array(0);

  /** Bytes received that do not yet form a whole frame. */
  get pendingBytes(): number {
    return this.buffer.length;
  }

  /** Adds a chunk and returns every frame it completed. */
  push(chunk: Uint8Array): GrpcWebFrame[] {
    if (this.buffer.length === 0) {
      this.buffer = chunk;
    } else {
      const joined = new Uint8Array(this.buffer.length + chunk.length);
      joined.set(this.buffer);
      joined.set(chunk, this.buffer.length);
      this.buffer = joined;
    }
    const frames: GrpcWebFrame[] = [];
    let offset = 0;
    while (this.buffer.length - offset >= FRAME_HEADER_BYTES) {
      const view = new DataView(this.buffer.buffer, this.buffer.byteOffset + offset, FRAME_HEADER_BYTES);
      const length = view.getUint32(1, false);
      if (this.buffer.length - offset - FRAME_HEADER_BYTES < length) break;
      const start = offset + FRAME_HEADER_BYTES;
      frames.push({ flag: view.getUint8(0), payload: this.buffer.slice(start, start + length) });
      offset = start + length;
    }
    this.buffer = this.buffer.slice(offset);
    return frames;
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
