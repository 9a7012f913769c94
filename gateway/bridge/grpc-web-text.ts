/**
 * The base64 body encoding of `application/grpc-web-text`, used by browsers that cannot
 * read binary streamed responses. Clients may send several independently padded base64
 * chunks back to back, so decoding restarts after every padding run; the bridge encodes
 * each response frame on its own (padded) so each one can be flushed as it arrives.
 */

const SEGMENT = /[A-Za-z0-9+/]*(?:={1,2}|$)/gy;

/** Decodes a grpc-web-text body (concatenated padded base64, whitespace ignored). */
export function decodeGrpcWebText(body: string): Buffer {
  const compact = body.replace(/\s+/g, "");
  const bad = /[^A-Za-z0-9+/=]/.exec(compact);
  if (bad !== null) {
    throw new Error(`grpc-web-text body is not base64: unexpected "${bad[0]}" at offset ${bad.index}`);
  }
  const parts: Buffer[] = [];
  SEGMENT.lastIndex = 0;
  while (SEGMENT.lastIndex < compact.length) {
    const start = SEGMENT.lastIndex;
    const match = SEGMENT.exec(compact);
    if (match === null || match[0] === "") {
      throw new Error(`grpc-web-text body is not base64: misplaced "=" at offset ${start}`);
    }
    const segment = match[0];
    const padded = segment.endsWith("=");
    if ((padded && segment.length % 4 !== 0) || (!padded && segment.length % 4 === 1)) {
      throw new Error(
        `grpc-web-text body is not base64: a chunk of ${segment.length} characters cannot decode`,
      );
    }
    parts.push(Buffer.from(segment, "base64"));
  }
  return Buffer.concat(parts);
}

/** Encodes bytes for a grpc-web-text response body. */
export function encodeGrpcWebText(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}
