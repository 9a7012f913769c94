import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { HmacSha256 } from "./hmac-sha256.js";

function reference(key: Uint8Array, message: Uint8Array): Buffer {
  return createHmac("sha256", key).update(message).digest();
}

describe("HmacSha256", () => {
  it("equals node:crypto for keys of every class and messages of 0 to 300 bytes", () => {
    // Key lengths below, at and above the 64-byte block (longer keys are hashed first).
    for (const keyLength of [32, 63, 64, 65, 200]) {
      const key = randomBytes(keyLength);
      const hmac = new HmacSha256(key);
      for (let length = 0; length <= 300; length++) {
        const message = randomBytes(length);
        const out = new Uint8Array(32);
        hmac.digestInto(message, length, out, 0);
        expect(Buffer.from(out).equals(reference(key, message))).toBe(true);
      }
    }
  });

  it("matches RFC 4231 test case 2", () => {
    const hmac = new HmacSha256(Buffer.from("Jefe"));
    const message = Buffer.from("what do ya want for nothing?");
    const out = Buffer.alloc(32);
    hmac.digestInto(message, message.length, out, 0);
    expect(out.toString("hex")).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  });

  it("reads only the first `length` bytes and writes at the offset, reusing its buffers", () => {
    const key = randomBytes(32);
    const hmac = new HmacSha256(key);
    const message = randomBytes(200);
    const out = Buffer.alloc(40, 0xaa);
    hmac.digestInto(message, 117, out, 8);
    expect(out.subarray(8).equals(reference(key, message.subarray(0, 117)))).toBe(true);
    expect(out.subarray(0, 8).equals(Buffer.alloc(8, 0xaa))).toBe(true);
    hmac.digestInto(message, 3, out, 8);
    expect(out.subarray(8).equals(reference(key, message.subarray(0, 3)))).toBe(true);
  });
});
