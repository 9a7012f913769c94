import type { Metadata } from "@grpc/grpc-js";
import { AuthError } from "./auth-error.js";

/** Longest bearer token read; longer ones are refused before any parsing or hashing. */
export const MAX_BEARER_LENGTH = 16_384;

/**
 * The token of the call's single `authorization: Bearer <token>` metadata entry, or an
 * "unauthenticated" AuthError saying what is missing or malformed. `expected` names the
 * credential in messages (e.g. "an access token (JWT)").
 */
export function readBearerToken(metadata: Metadata, method: string, expected: string): string {
  const values = metadata.get("authorization");
  if (values.length === 0) {
    throw new AuthError(
      "unauthenticated",
      `${method} requires authentication: send the metadata 'authorization: Bearer <${expected}>'`,
    );
  }
  if (values.length > 1) {
    throw new AuthError("unauthenticated", "authorization metadata is given more than once; send it once");
  }
  const value = values[0];
  if (typeof value !== "string" || value.length > MAX_BEARER_LENGTH) {
    throw new AuthError(
      "unauthenticated",
      `authorization metadata is malformed: expected 'Bearer <${expected}>' of at most ${MAX_BEARER_LENGTH} characters`,
    );
  }
  const match = /^Bearer +(\S+)\s*$/i.exec(value);
  const token = match?.[1];
  if (token === undefined) {
    throw new AuthError(
      "unauthenticated",
      `authorization metadata is malformed: expected 'Bearer <${expected}>'`,
    );
  }
  return token;
}
