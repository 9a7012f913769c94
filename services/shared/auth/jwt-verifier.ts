import {
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from "jose";
import { DEFAULT_SITE_CLAIM, type AuthConfig } from "./auth-config.js";
import { AuthError } from "./auth-error.js";
import { JwksUnavailableError } from "./jwks-key-source.js";
import { MAX_PRINCIPAL_BYTES, principalOf, type Caller } from "./caller.js";

/**
 * Signature algorithms accepted: asymmetric only. `none` and the HMAC family are never
 * accepted, so a token "signed" with the issuer's public key as an HMAC secret fails.
 */
export const ACCEPTED_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
];
/** Clock skew allowed on `exp` and `nbf`, in seconds. */
export const CLOCK_TOLERANCE_S = 30;

/** A verified access token: who it names and until when it may be used (Unix ms). */
export interface VerifiedToken {
  readonly caller: Caller;
  readonly expiresAtMs: number;
}

/**
 * Verifies OIDC access tokens with jose: signature by the issuer's key chosen by `kid`,
 * `iss`, `aud`, `exp` and `nbf` (with CLOCK_TOLERANCE_S of skew), `sub` present; then
 * reads the roles claim. Refusals are AuthErrors whose messages say what was wrong.
 */
export class JwtVerifier {
  constructor(
    private readonly config: AuthConfig,
    private readonly keys: JWTVerifyGetKey,
  ) {}

  async verify(token: string): Promise<VerifiedToken> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.config.issuer,
        audience: this.config.audience,
        algorithms: ACCEPTED_ALGORITHMS,
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ["exp", "sub"],
      }));
    } catch (error) {
      throw this.explain(error, token);
    }
    const issuer = payload.iss ?? this.config.issuer;
    // jose checks only that sub is present; an array or number would make another
    // principal's string (["alice"] reads as "alice"), so it must be a non-blank string.
    const subject: unknown = payload.sub;
    if (typeof subject !== "string" || subject.trim() === "")
      throw new AuthError("unauthenticated", "access token refused: its sub claim is not a non-empty string");
    const principal = principalOf(issuer, subject);
    if (Buffer.byteLength(principal, "utf8") > MAX_PRINCIPAL_BYTES) {
      throw new AuthError(
        "unauthenticated",
        `access token refused: issuer and sub together exceed ${MAX_PRINCIPAL_BYTES} bytes`,
      );
    }
    const roles = readRoles(payload, this.config.rolesClaim);
    const siteClaim = payload[this.config.siteClaim ?? DEFAULT_SITE_CLAIM];
    if (siteClaim !== undefined && typeof siteClaim !== "string")
      throw new AuthError(
        "unauthenticated",
        `access token refused: its ${this.config.siteClaim ?? DEFAULT_SITE_CLAIM} claim is not a string`,
      );
    return {
      caller: {
        principal,
        issuer,
        subject,
        roles,
        admin: roles.includes(this.config.adminRole),
        ...(siteClaim === undefined ? {} : { site: siteClaim }),
      },
      expiresAtMs: (payload.exp ?? 0) * 1000,
    };
  }

  private explain(error: unknown, token: string): AuthError {
    const bad = (why: string): AuthError => new AuthError("unauthenticated", `access token refused: ${why}`);
    if (error instanceof errors.JWTExpired) {
      const exp = safeClaims(token).exp;
      const when = typeof exp === "number" ? ` at ${new Date(exp * 1000).toISOString()}` : "";
      return bad(`it expired${when}; sign in again or mint a new token`);
    }
    if (error instanceof errors.JWTClaimValidationFailed) {
      const claims = safeClaims(token);
      if (error.reason === "missing") return bad(`it has no ${error.claim} claim`);
      switch (error.claim) {
        case "iss":
          return bad(
            `wrong issuer ${shown(claims.iss)}; this service trusts ${this.config.issuer} (AUTH_ISSUER)`,
          );
        case "aud":
          return bad(
            `wrong audience ${shown(claims.aud)}; this service is ${this.config.audience} (AUTH_AUDIENCE)`,
          );
        case "nbf":
          return bad(
            `it is not valid yet (nbf ${typeof claims.nbf === "number" ? new Date(claims.nbf * 1000).toISOString() : "?"})`,
          );
        default:
          return bad(`claim ${error.claim} is invalid (${error.reason})`);
      }
    }
    if (error instanceof errors.JWKSNoMatchingKey) {
      return bad(
        `unknown signing key (kid ${shown(safeHeader(token).kid)}): the issuer's key set has no such key`,
      );
    }
    if (error instanceof errors.JWKSMultipleMatchingKeys) {
      return bad("the token names no kid and the issuer's key set has several keys that could match");
    }
    if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
      return bad(
        `signature algorithm ${shown(safeHeader(token).alg)} is not accepted; only asymmetric algorithms (${ACCEPTED_ALGORITHMS.join(", ")}) are`,
      );
    }
    if (error instanceof errors.JWSSignatureVerificationFailed) {
      return bad("the signature does not verify: the token was altered or not signed by the issuer");
    }
    if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) {
      return new AuthError(
        "unavailable",
        `the issuer's keys cannot be fetched (${error.message}); retry shortly`,
      );
    }
    if (error instanceof JwksUnavailableError) {
      return new AuthError("unavailable", `the issuer's keys cannot be read here (${error.message})`);
    }
    if (error instanceof errors.JOSEError) return bad(`it is malformed (${error.message})`);
    if (
      error instanceof TypeError ||
      (error instanceof Error && /fetch|ECONN|ENOTFOUND/i.test(error.message))
    ) {
      return new AuthError(
        "unavailable",
        `the issuer's keys cannot be fetched (${error.message}); retry shortly`,
      );
    }
    return bad(error instanceof Error ? error.message : String(error));
  }
}

/**
 * The roles in the claim at `path` (dots walk into nested objects, as Keycloak's
 * `realm_access.roles`): an array of strings, or one space-separated string.
 */
export function readRoles(payload: JWTPayload, path: string): string[] {
  let value: unknown = payload;
  for (const part of path.split(".")) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return [];
    value = (value as Record<string, unknown>)[part];
  }
  if (typeof value === "string") return value.split(" ").filter((role) => role !== "");
  if (Array.isArray(value)) return value.filter((role): role is string => typeof role === "string");
  return [];
}

function safeClaims(token: string): JWTPayload {
  try {
    return decodeJwt(token);
  } catch {
    return {};
  }
}

function safeHeader(token: string): { kid?: string; alg?: string } {
  try {
    return decodeProtectedHeader(token);
  } catch {
    return {};
  }
}

/** A stranger-controlled claim for a message: quoted, at most 80 characters. */
function shown(value: unknown): string {
  const text = value === undefined ? "(none)" : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
