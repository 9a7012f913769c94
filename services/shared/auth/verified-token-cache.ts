import { createHash } from "node:crypto";
import type { VerifiedToken } from "./jwt-verifier.js";

/** Default bound on cached tokens; when full, the oldest entry makes room. */
export const DEFAULT_TOKEN_CACHE_ENTRIES = 10_000;

/**
 * Default time a verified token is answered from the cache before its signature is checked
 * again. A token stays cryptographically valid until its `exp`, which an issuer may set
 * far ahead; re-checking bounds how long a token keeps working after its key leaves the
 * issuer's key set (a revoked or rotated-out key), to this plus the key set's own refresh.
 */
export const DEFAULT_TOKEN_REVERIFY_MS = 60_000;

interface Entry {
  readonly verified: VerifiedToken;
  /** Unix ms after which the entry is not served: min(exp, cached + reverify interval). */
  readonly until: number;
}

/**
 * Verified access tokens by the SHA-256 of the token. A clinician's browser sends the same
 * token on every call, so only its first call in each re-verification interval pays for the
 * signature check; the hash (not the token) is the key, so the cache holds no credentials.
 * A token is never served past its own expiry nor longer than `reverifyMs` since it was last
 * verified, and entries are evicted oldest first.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxEntries = DEFAULT_TOKEN_CACHE_ENTRIES,
    private readonly reverifyMs = DEFAULT_TOKEN_REVERIFY_MS,
  ) {
    if (!(reverifyMs > 0)) throw new Error(`reverifyMs must be positive; got ${reverifyMs}`);
  }

  /** The cache key of a token. */
  static keyOf(token: string): string {
    return createHash("sha256").update(token, "utf8").digest("base64");
  }

  /** The verified token under `key`, unless it is due by `nowMs` (then it is dropped). */
  get(key: string, nowMs: number): VerifiedToken | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until <= nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.verified;
  }

  /** Caches a token verified at `nowMs`. */
  set(key: string, verified: VerifiedToken, nowMs: number): void {
    const until = Math.min(verified.expiresAtMs, nowMs + this.reverifyMs);
    if (until <= nowMs) return;
    if (this.entries.size >= this.maxEntries) {
      for (const [old, entry] of this.entries) {
        if (entry.until <= nowMs) this.entries.delete(old);
      }
      if (this.entries.size >= this.maxEntries) {
        const oldest = this.entries.keys().next();
        if (oldest.done !== true) this.entries.delete(oldest.value);
      }
    }
    // Re-inserted, so a re-verified token counts as the newest for eviction.
    this.entries.delete(key);
    this.entries.set(key, { verified, until });
  }

  get size(): number {
    return this.entries.size;
  }
}
