import { describe, expect, it } from "vitest";
import type { Caller } from "./caller.js";
import type { VerifiedToken } from "./jwt-verifier.js";
import { VerifiedTokenCache } from "./verified-token-cache.js";

function verified(subject: string, expiresAtMs: number): VerifiedToken {
  const caller: Caller = { principal: `iss|${subject}`, issuer: "iss", subject, roles: [], admin: false };
  return { caller, expiresAtMs };
}

describe("VerifiedTokenCache", () => {
  it("keys tokens by their SHA-256, never by the token itself", () => {
    const key = VerifiedTokenCache.keyOf("header.payload.signature");
    expect(key).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(key).not.toContain("payload");
    expect(VerifiedTokenCache.keyOf("header.payload.signaturf")).not.toBe(key);
  });

  it("serves an entry until its token's exp, never after", () => {
    const cache = new VerifiedTokenCache();
    cache.set("a", verified("alice", 2_000), 1_000);
    expect(cache.get("a", 1_999)?.caller.subject).toBe("alice");
    expect(cache.get("a", 2_000)).toBeUndefined();
    expect(cache.size).toBe(0);
    cache.set("b", verified("bob", 1_000), 1_000);
    expect(cache.get("b", 1_000)).toBeUndefined();
  });

  it("stays within its bound: expired entries go first, then the oldest", () => {
    const cache = new VerifiedTokenCache(3);
    cache.set("old", verified("old", 10_000), 0);
    cache.set("short", verified("short", 500), 0);
    cache.set("mid", verified("mid", 10_000), 0);
    cache.set("new", verified("new", 10_000), 1_000);
    expect(cache.size).toBe(3);
    expect(cache.get("short", 1_000)).toBeUndefined();
    expect(cache.get("old", 1_000)?.caller.subject).toBe("old");
    cache.set("newest", verified("newest", 10_000), 1_000);
    expect(cache.size).toBe(3);
    expect(cache.get("old", 1_000)).toBeUndefined();
    expect(["mid", "new", "newest"].map((k) => cache.get(k, 1_000)?.caller.subject)).toEqual([
      "mid",
      "new",
      "newest",
    ]);
  });

  it("re-checks a long-lived token after the re-verification interval, whatever its exp", () => {
    const cache = new VerifiedTokenCache(10, 60_000);
    const farAhead = Date.UTC(3000, 0, 1);
    cache.set("a", verified("alice", farAhead), 1_000);
    expect(cache.get("a", 60_999)?.caller.subject).toBe("alice");
    expect(cache.get("a", 61_000)).toBeUndefined();
    // Verified again: served for another interval.
    cache.set("a", verified("alice", farAhead), 61_000);
    expect(cache.get("a", 120_999)?.caller.subject).toBe("alice");
    expect(() => new VerifiedTokenCache(10, 0)).toThrow(/reverifyMs must be positive/);
  });
});
