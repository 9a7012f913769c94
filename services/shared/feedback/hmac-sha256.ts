import { hmac, type _HMAC } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";

/** Length in bytes of an HMAC-SHA256 (the MAC part of every feedback token). */
export const HMAC_SHA256_BYTES = 32;

/**
 * HMAC-SHA256 (RFC 2104) by @noble/hashes (audited), with the key's inner and outer pad
 * states computed once and copied into a reused instance per message (what noble's own
 * PBKDF2 does), because PredictBatch signs one token per patient.
 *
 * Why not node:crypto: createHmac sets up a new object per call. Why not a hand-written
 * SHA-256 (this file held one until the measurement): `npm run bench -- --only hmac` on the
 * project's 2-core machine, 118-byte records, load average about 20: createHmac 10.0 µs,
 * this 6.15 µs, the hand-written one 5.98 µs per MAC. 3% is not worth owning a hash.
 * Output equals createHmac's byte for byte (hmac-sha256.test.ts). Not thread-safe: one
 * instance per event loop.
 */
export class HmacSha256 {
  private readonly keyed: _HMAC<ReturnType<typeof sha256.create>>;
  private readonly scratch: _HMAC<ReturnType<typeof sha256.create>>;

  constructor(key: Uint8Array) {
    this.keyed = hmac.create(sha256, key);
    this.scratch = this.keyed.clone();
  }

  /** Writes HMAC(key, message[0 .. length)) into out[offset .. offset + 32). */
  digestInto(message: Uint8Array, length: number, out: Uint8Array, offset: number): void {
    this.keyed
      ._cloneInto(this.scratch)
      .update(message.subarray(0, length))
      .digestInto(out.subarray(offset, offset + HMAC_SHA256_BYTES));
  }
}
