import { createHash } from "node:crypto";

/** SHA-256 round constants (FIPS 180-4 §4.2.2). */
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

/** SHA-256 initial hash value (FIPS 180-4 §5.3.3). */
const IV = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

const BLOCK = 64;
/** Length in bytes of an HMAC-SHA256 (the MAC part of every feedback token). */
export const HMAC_SHA256_BYTES = 32;

/**
 * HMAC-SHA256 (RFC 2104) in plain JS with the key's inner and outer pad states computed once
 * (RFC 2104 §4 suggests exactly this), so a short message costs three compression rounds and
 * no allocation. Why not node:crypto: createHmac costs about 2-3 µs per call on this
 * machine, almost all of it object set-up, and PredictBatch signs one token per patient;
 * this does the same work in well under half that. Output equals createHmac's, byte for byte
 * (hmac-sha256.test.ts checks thousands of random keys and messages). Not thread-safe: one
 * instance per event loop.
 */
export class HmacSha256 {
  private readonly inner = new Int32Array(8);
  private readonly outer = new Int32Array(8);
  private readonly state = new Int32Array(8);
  private readonly w = new Int32Array(64);
  /** Padded message blocks, and a view to read them as big-endian words; grown on demand. */
  private blocks = new Uint8Array(4 * BLOCK);
  private blockView = new DataView(this.blocks.buffer);
  private readonly outerBlock = new Uint8Array(BLOCK);
  private readonly outerView = new DataView(this.outerBlock.buffer);

  constructor(key: Uint8Array) {
    const material = key.length > BLOCK ? createHash("sha256").update(key).digest() : key;
    const ipad = new Uint8Array(BLOCK).fill(0x36);
    const opad = new Uint8Array(BLOCK).fill(0x5c);
    for (let i = 0; i < material.length; i++) {
      ipad[i] = (ipad[i] ?? 0) ^ (material[i] ?? 0);
      opad[i] = (opad[i] ?? 0) ^ (material[i] ?? 0);
    }
    this.inner.set(IV);
    this.compress(this.inner, new DataView(ipad.buffer), 0);
    this.outer.set(IV);
    this.compress(this.outer, new DataView(opad.buffer), 0);
    // The outer message is always one block: the 32-byte inner digest, padding, length.
    this.outerBlock[HMAC_SHA256_BYTES] = 0x80;
    const outerBits = (BLOCK + HMAC_SHA256_BYTES) * 8;
    this.outerBlock[BLOCK - 2] = outerBits >>> 8;
    this.outerBlock[BLOCK - 1] = outerBits & 0xff;
  }

  /** Writes HMAC(key, message[0 .. length)) into out[offset .. offset + 32). */
  digestInto(message: Uint8Array, length: number, out: Uint8Array, offset: number): void {
    const blockCount = Math.floor((length + 9 + BLOCK - 1) / BLOCK);
    const bytes = blockCount * BLOCK;
    if (this.blocks.length < bytes) {
      this.blocks = new Uint8Array(bytes);
      this.blockView = new DataView(this.blocks.buffer);
    }
    const blocks = this.blocks;
    blocks.set(message.subarray(0, length));
    blocks.fill(0, length, bytes);
    blocks[length] = 0x80;
    // Message length in bits, counting the key block already absorbed; fits in 32 bits here.
    const bits = (BLOCK + length) * 8;
    blocks[bytes - 4] = bits >>> 24;
    blocks[bytes - 3] = bits >>> 16;
    blocks[bytes - 2] = bits >>> 8;
    blocks[bytes - 1] = bits;
    const state = this.state;
    state.set(this.inner);
    for (let b = 0; b < blockCount; b++) this.compress(state, this.blockView, b * BLOCK);
    writeWords(state, this.outerBlock, 0);
    state.set(this.outer);
    this.compress(state, this.outerView, 0);
    writeWords(state, out, offset);
  }

  /** One SHA-256 compression of the block at `at` into `state`. */
  private compress(state: Int32Array, data: DataView, at: number): void {
    // Indexes below are always in bounds (64-entry tables, whole blocks): `as number` drops
    // the undefined checks noUncheckedIndexedAccess would otherwise put in the hot loop.
    const w = this.w;
    for (let i = 0; i < 16; i++) w[i] = data.getInt32(at + i * 4);
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15] as number;
      const y = w[i - 2] as number;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = ((w[i - 16] as number) + s0 + (w[i - 7] as number) + s1) | 0;
    }
    // The rounds add K[i] + W[i]; add them once here so each round reads one table.
    for (let i = 0; i < 64; i++) w[i] = ((w[i] as number) + (K[i] as number)) | 0;
    let a = state[0] as number;
    let b = state[1] as number;
    let c = state[2] as number;
    let d = state[3] as number;
    let e = state[4] as number;
    let f = state[5] as number;
    let g = state[6] as number;
    let h = state[7] as number;
    // Eight rounds per pass with the working variables renamed instead of rotated (FIPS 180-4
    // §6.2.2 step 3; Ch and Maj in their equivalent two-operation forms).
    for (let i = 0; i < 64; i += 8) {
      h =
        (h +
          (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
          (g ^ (e & (f ^ g))) +
          (w[i] as number)) |
        0;
      d = (d + h) | 0;
      h =
        (h +
          (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
          ((a & b) | (c & (a | b)))) |
        0;
      g =
        (g +
          (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) +
          (f ^ (d & (e ^ f))) +
          (w[i + 1] as number)) |
        0;
      c = (c + g) | 0;
      g =
        (g +
          (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) +
          ((h & a) | (b & (h | a)))) |
        0;
      f =
        (f +
          (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) +
          (e ^ (c & (d ^ e))) +
          (w[i + 2] as number)) |
        0;
      b = (b + f) | 0;
      f =
        (f +
          (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) +
          ((g & h) | (a & (g | h)))) |
        0;
      e =
        (e +
          (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) +
          (d ^ (b & (c ^ d))) +
          (w[i + 3] as number)) |
        0;
      a = (a + e) | 0;
      e =
        (e +
          (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) +
          ((f & g) | (h & (f | g)))) |
        0;
      d =
        (d +
          (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) +
          (c ^ (a & (b ^ c))) +
          (w[i + 4] as number)) |
        0;
      h = (h + d) | 0;
      d =
        (d +
          (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) +
          ((e & f) | (g & (e | f)))) |
        0;
      c =
        (c +
          (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) +
          (b ^ (h & (a ^ b))) +
          (w[i + 5] as number)) |
        0;
      g = (g + c) | 0;
      c =
        (c +
          (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) +
          ((d & e) | (f & (d | e)))) |
        0;
      b =
        (b +
          (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) +
          (a ^ (g & (h ^ a))) +
          (w[i + 6] as number)) |
        0;
      f = (f + b) | 0;
      b =
        (b +
          (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) +
          ((c & d) | (e & (c | d)))) |
        0;
      a =
        (a +
          (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) +
          (h ^ (f & (g ^ h))) +
          (w[i + 7] as number)) |
        0;
      e = (e + a) | 0;
      a =
        (a +
          (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) +
          ((b & c) | (d & (b | c)))) |
        0;
    }
    state[0] = ((state[0] as number) + a) | 0;
    state[1] = ((state[1] as number) + b) | 0;
    state[2] = ((state[2] as number) + c) | 0;
    state[3] = ((state[3] as number) + d) | 0;
    state[4] = ((state[4] as number) + e) | 0;
    state[5] = ((state[5] as number) + f) | 0;
    state[6] = ((state[6] as number) + g) | 0;
    state[7] = ((state[7] as number) + h) | 0;
  }
}

/** The eight state words, big-endian, into out[offset .. offset + 32). */
function writeWords(state: Int32Array, out: Uint8Array, offset: number): void {
  for (let i = 0; i < 8; i++) {
    const word = state[i] as number;
    const j = offset + i * 4;
    out[j] = word >>> 24;
    out[j + 1] = word >>> 16;
    out[j + 2] = word >>> 8;
    out[j + 3] = word;
  }
}
