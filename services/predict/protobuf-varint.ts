/**
 * Protobuf base-128 varints for the hand-written Predict writers (batch-response-writer,
 * explanation-wire), which size each answer exactly before writing it into one Buffer.
 * Values are non-negative and below 2^53; Math.floor keeps them exact past 32 bits.
 */

/** Bytes the varint of `value` takes. */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** Writes the varint of `value` at `at`; returns the offset after it. */
export function writeVarint(out: Uint8Array, value: number, at: number): number {
  while (value >= 0x80) {
    out[at++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  out[at++] = value;
  return at;
}
