import { createHash } from "node:crypto";
import type { VerifiedToken } from "./jwt-verifier.js";

/** Default bound on cached tokens; when full, the oldest entry makes room. */
export const DEFAULT_TOKEN_CACHE_ENTRIES = 10_000;

/**
 * Verified access tokens by the SHA-256 of the token, until their `exp`. A clinician's
 * browser sends the same token on every call, so only its first call pays for the
 * signature check; the hash (not the token) is the key, so the cache holds no credentials.
 * A token is never served past its own expiry, and entries are evicted oldest first.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, VerifiedToken>();

  constructor(private readonly maxEntries = DEFAULT_TOKEN_CACHE_ENTRIES) {}

  /** The cache key of a token. */
  static keyOf(token: string): string {
    return createHash("sha256").update(token, "utf8").digest("base64");
  }

  /** The verified token under `key`, unless it has expired by `nowMs` (then it is dropped). */
  get(key: string, nowMs: number): VerifiedToken | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  set(key: string, verified: VerifiedToken, nowMs: number): void {
    if (verified.expiresAtMs <= nowMs) return;
    if (this.entries.size >= this.maxEntries) {
      for (const [old, entry] of this.entries) {
        if (entry.expiresAtMs <= nowMs) this.entries.delete(old);
      }
      if (this.entries.size >= this.maxEntries) {
        const oldest = this.entries.keys().next();
        if (oldest.done !== true) this.entries.delete(oldest.value);
      }
    }
    this.entries.set(key, verified);
  }

  get size(): number {
    return this.entries.size;
  }
}
