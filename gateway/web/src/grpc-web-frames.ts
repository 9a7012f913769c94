/**
 * The grpc-web body format as the browser client reads and writes it: 5-byte frame headers
 * (flag + big-endian length), a trailer frame flagged 0x80 holding "name:value\r\n" lines,
 * and the percent-encoded grpc-message. Pure Uint8Array code, unit-tested without a browser.
 */

/** Flag byte of a data frame. */
export const DATA_FRAME_FLAG = 0x00;
/** Bit of the flag byte marking a compressed payload (never negotiated by this client). */
export const COMPRESSED_FLAG_BIT = 0x01;
/** Bit of the flag byte marking the trailer frame. */
export const TRAILER_FLAG_BIT = 0x80;
/** Flag byte plus 4-byte length. */
export const FRAME_HEADER_LENGTH = 5;
/**
 * Largest frame this client accepts (gRPC's default receive limit). A larger declared length
 * means a corrupt or non-grpc-web body, and must not make the page buffer without bound.
 */
export const MAX_FRAME_LENGTH = 4 * 1024 * 1024;

/** One frame of a response body. */
export interface Frame {
  readonly flag: number;
  readonly payload: Uint8Array;
}

/** The request body: exactly one uncompressed data frame around the serialized request. */
export function encodeDataFrame(message: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(FRAME_HEADER_LENGTH + message.length);
  out[0] = DATA_FRAME_FLAG;
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(1, message.length, false);
  out.set(message, FRAME_HEADER_LENGTH);
  return out;
}

/**
 * Reassembles frames from a body read in arbitrary chunks: a frame split over several
 * chunks, or several frames in one chunk, decode the same.
 */
export class FrameReader {
  private buffered: Uint8Array = new Uint8Array(0);

  /** Bytes held that do not yet form a whole frame; non-zero at the end means a truncated body. */
  get pendingBytes(): number {
    return this.buffered.length;
  }

  /** Adds one chunk and returns the frames it completed, in order. Throws on an oversized frame. */
  push(chunk: Uint8Array): Frame[] {
    if (this.buffered.length === 0) {
      this.buffered = chunk;
    } else {
      const joined = new Uint8Array(this.buffered.length + chunk.length);
      joined.set(this.buffered);
      joined.set(chunk, this.buffered.length);
      this.buffered = joined;
    }
    const frames: Frame[] = [];
    let offset = 0;
    while (this.buffered.length - offset >= FRAME_HEADER_LENGTH) {
      const view = new DataView(this.buffered.buffer, this.buffered.byteOffset + offset, FRAME_HEADER_LENGTH);
      const length = view.getUint32(1, false);
      if (length > MAX_FRAME_LENGTH) {
        throw new Error(`grpc-web frame of ${length} bytes exceeds the ${MAX_FRAME_LENGTH}-byte limit`);
      }
      const start = offset + FRAME_HEADER_LENGTH;
      if (this.buffered.length - start < length) break;
      frames.push({ flag: view.getUint8(0), payload: this.buffered.slice(start, start + length) });
      offset = start + length;
    }
    this.buffered = offset === 0 ? this.buffered : this.buffered.slice(offset);
    return frames;
  }
}

/**
 * Parses a trailer block ("name:value" lines separated by CRLF; a bare LF is tolerated) into
 * a map with lower-case names. A repeated name keeps its values joined by ", " as HTTP does.
 */
export function parseTrailers(payload: Uint8Array): Map<string, string> {
  const trailers = new Map<string, string>();
  for (const line of new TextDecoder().decode(payload).split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`grpc-web trailer line "${line}" is not "name:value"`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const earlier = trailers.get(name);
    trailers.set(name, earlier === undefined ? value : `${earlier}, ${value}`);
  }
  return trailers;
}

/**
 * Undoes the percent-encoding of grpc-message (UTF-8 bytes as %XX). Malformed escapes stay
 * as they are, as the gRPC spec asks, so a status message is never lost to a decoding error.
 */
export function decodeGrpcMessage(encoded: string): string {
  return encoded.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = new Uint8Array(run.length / 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(3 * i + 1, 3 * i + 3), 16);
    return new TextDecoder().decode(bytes);
  });
}

/**
 * The grpc-timeout header for a deadline in milliseconds: at most 8 digits and a unit, so
 * long deadlines switch to seconds (rounded up, never shortening the caller's deadline).
 */
export function formatGrpcTimeout(milliseconds: number): string {
  if (!Number.isFinite(milliseconds) || milliseconds < 0) {
    throw new RangeError(`grpc-timeout must be a finite, non-negative number of ms; got ${milliseconds}`);
  }
  const ms = Math.ceil(milliseconds);
  if (ms <= 99_999_999) return `${ms}m`;
  const seconds = Math.ceil(ms / 1000);
  if (seconds <= 99_999_999) return `${seconds}S`;
  return `${Math.min(99_999_999, Math.ceil(seconds / 3600))}H`;
}
