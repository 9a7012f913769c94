import { FEATURE_COUNT } from "../../shared/features/feature-schema.js";

/** Bytes of one stored feature vector: FEATURE_COUNT float64. */
export const FEATURE_BLOB_BYTES = FEATURE_COUNT * 8;

/**
 * A feature vector as a BLOB: FEATURE_COUNT float64 in schema order, in the platform's
 * byte order (little-endian on every platform Node supports), so storing is one copy.
 */
export function encodeFeatureBlob(features: Float64Array, offset = 0): Buffer {
  if (offset + FEATURE_COUNT > features.length) {
    throw new Error(
      `a feature vector needs ${FEATURE_COUNT} values from offset ${offset}; the array has ${features.length}`,
    );
  }
  const view = features.subarray(offset, offset + FEATURE_COUNT);
  return Buffer.from(new Uint8Array(view.buffer, view.byteOffset, FEATURE_BLOB_BYTES));
}

/** Copies a stored vector into `out` at row `row` (row-major, FEATURE_COUNT per row). */
export function decodeFeatureBlobInto(blob: Uint8Array, out: Float64Array, row: number): void {
  if (blob.byteLength !== FEATURE_BLOB_BYTES) {
    throw new Error(`a stored feature vector has ${blob.byteLength} bytes; expected ${FEATURE_BLOB_BYTES}`);
  }
  new Uint8Array(out.buffer, out.byteOffset + row * FEATURE_BLOB_BYTES, FEATURE_BLOB_BYTES).set(blob);
}

/** A stored vector as a fresh Float64Array. */
export function decodeFeatureBlob(blob: Uint8Array): Float64Array {
  const out = new Float64Array(FEATURE_COUNT);
  decodeFeatureBlobInto(blob, out, 0);
  return out;
}
