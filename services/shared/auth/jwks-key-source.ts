import { readFileSync, statSync } from "node:fs";
import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import type { JwksLocation } from "./auth-config.js";

/** How long fetched remote keys are trusted before they are fetched again. */
export const REMOTE_JWKS_MAX_AGE_MS = 10 * 60_000;
/** Least time between two fetches of the remote JWKS (an unknown `kid` triggers one). */
export const REMOTE_JWKS_COOLDOWN_MS = 30_000;
/** Deadline of one JWKS fetch. */
export const REMOTE_JWKS_TIMEOUT_MS = 5_000;

/** Timings of a remote key set; tests shorten the cooldown to exercise rotation. */
export interface RemoteJwksTimings {
  readonly maxAgeMs: number;
  readonly cooldownMs: number;
  readonly timeoutMs: number;
}

/**
 * The key lookup jose's jwtVerify uses, picking the key by the token's `kid` and `alg`.
 * A URL goes to jose's createRemoteJWKSet: cached, refetched after maxAgeMs, and refetched
 * (at most once per cooldown) when a token names a key it does not hold, which is how an
 * issuer's key rotation reaches us. A file is read at start and again whenever it changes
 * on disk (a mounted Secret or a regenerated dev key), checked when a token is verified.
 */
export function jwksKeySource(
  location: JwksLocation,
  timings: RemoteJwksTimings = {
    maxAgeMs: REMOTE_JWKS_MAX_AGE_MS,
    cooldownMs: REMOTE_JWKS_COOLDOWN_MS,
    timeoutMs: REMOTE_JWKS_TIMEOUT_MS,
  },
): JWTVerifyGetKey {
  if (location.kind === "url") {
    return createRemoteJWKSet(location.url, {
      cacheMaxAge: timings.maxAgeMs,
      cooldownDuration: timings.cooldownMs,
      timeoutDuration: timings.timeoutMs,
    });
  }
  return fileKeySource(location.file);
}

/**
 * The key set cannot be read: the service's configuration is at fault, not the token, so
 * callers are told to retry (UNAVAILABLE) rather than that their token is bad.
 */
export class JwksUnavailableError extends Error {}

/**
 * Keys from a JWKS file. Read at start (a missing or invalid file stops the service from
 * starting), then again whenever the file changes. Fails closed: once the file is deleted
 * or replaced by something that is not a key set, every token is refused until a valid key
 * set is back; the previous keys are never used again.
 */
function fileKeySource(file: string): JWTVerifyGetKey {
  let stamp = "";
  let keys: JWTVerifyGetKey | undefined;
  let problem: Error | undefined;
  function load(): JWTVerifyGetKey {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, "utf8"));
    } catch (error) {
      throw new JwksUnavailableError(
        `AUTH_JWKS_FILE ${file} is not JSON: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    if (
      typeof parsed !== "object" ||
      parsed === null ||
      !Array.isArray((parsed as { keys?: unknown }).keys)
    ) {
      throw new JwksUnavailableError(
        `AUTH_JWKS_FILE ${file} is not a JWKS: expected an object with a "keys" array`,
      );
    }
    return createLocalJWKSet(parsed as JSONWebKeySet);
  }
  function refresh(): void {
    const stats = statSync(file, { throwIfNoEntry: false });
    const next = stats === undefined ? "missing" : `${stats.mtimeMs}:${stats.size}`;
    if (next === stamp) return;
    stamp = next;
    keys = undefined;
    if (stats === undefined) {
      problem = new JwksUnavailableError(
        `AUTH_JWKS_FILE ${file} is missing; no token is accepted until it is back`,
      );
      return;
    }
    try {
      keys = load();
      problem = undefined;
    } catch (error) {
      problem = error instanceof Error ? error : new JwksUnavailableError(String(error));
    }
  }
  refresh();
  if (problem !== undefined) throw problem;
  return (header, token) => {
    refresh();
    if (keys === undefined) throw problem ?? new JwksUnavailableError(`AUTH_JWKS_FILE ${file} has no keys`);
    return keys(header, token);
  };
}
