import { type Env, readOptionalString, readString } from "../ops/env-config.js";

/** Default claim holding the caller's roles (binding: README.md, Configuration). */
export const DEFAULT_ROLES_CLAIM = "roles";
/** Default claim naming the caller's site (binding name AUTH_SITE_CLAIM). */
export const DEFAULT_SITE_CLAIM = "site";
/** Default role that may predict and send feedback (binding: README.md, Configuration). */
export const DEFAULT_CLINICIAN_ROLE = "liver-clinician";
/** Default role that may retrain, roll back and review feedback (binding: README.md, Configuration). */
export const DEFAULT_ADMIN_ROLE = "liver-admin";

/** Where the issuer's public keys come from: its JWKS URL, or a local JWKS file. */
export type JwksLocation =
  { readonly kind: "url"; readonly url: URL } | { readonly kind: "file"; readonly file: string };

/**
 * How the services check OIDC access tokens. Absent (AUTH_ISSUER unset) means no
 * authentication at all, as before this setting existed.
 */
export interface AuthConfig {
  /** Expected `iss`, exactly. */
  readonly issuer: string;
  /** Expected `aud` (one of the token's audiences). */
  readonly audience: string;
  readonly jwks: JwksLocation;
  /** Claim (a dotted path such as `realm_access.roles` for nested claims) holding the roles. */
  readonly rolesClaim: string;
  /** Claim naming the caller's site (AUTH_SITE_CLAIM); optional so older configs stay valid. */
  readonly siteClaim?: string | undefined;
  readonly clinicianRole: string;
  readonly adminRole: string;
}

/**
 * Reads AUTH_ISSUER, AUTH_AUDIENCE, AUTH_JWKS_URL or AUTH_JWKS_FILE, AUTH_ROLES_CLAIM,
 * AUTH_CLINICIAN_ROLE and AUTH_ADMIN_ROLE. Undefined when AUTH_ISSUER is unset; an
 * incomplete or contradictory setting fails at start with the variable named.
 */
export function readAuthConfig(env: Env): AuthConfig | undefined {
  const issuer = readOptionalString(env, "AUTH_ISSUER");
  const audience = readOptionalString(env, "AUTH_AUDIENCE");
  const url = readOptionalString(env, "AUTH_JWKS_URL");
  const file = readOptionalString(env, "AUTH_JWKS_FILE");
  if (issuer === undefined) {
    const stray = [audience && "AUTH_AUDIENCE", url && "AUTH_JWKS_URL", file && "AUTH_JWKS_FILE"].filter(
      Boolean,
    );
    if (stray.length > 0) {
      throw new Error(
        `${stray.join(", ")} set without AUTH_ISSUER: set AUTH_ISSUER to turn authentication on`,
      );
    }
    return undefined;
  }
  if (audience === undefined) {
    throw new Error(
      "AUTH_ISSUER is set but AUTH_AUDIENCE is not: set the audience the tokens are issued for",
    );
  }
  if ((url === undefined) === (file === undefined)) {
    throw new Error(
      "AUTH_ISSUER is set: set exactly one of AUTH_JWKS_URL (the issuer's JWKS endpoint) or AUTH_JWKS_FILE (a local JWKS file)",
    );
  }
  let jwks: JwksLocation;
  if (url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`AUTH_JWKS_URL=${url} is not a URL`);
    }
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
      throw new Error(`AUTH_JWKS_URL=${url} is not valid: expected an https:// (or http://) URL`);
    }
    jwks = { kind: "url", url: parsed };
  } else {
    jwks = { kind: "file", file: file as string };
  }
  return {
    issuer,
    audience,
    jwks,
    rolesClaim: readString(env, "AUTH_ROLES_CLAIM", DEFAULT_ROLES_CLAIM),
    siteClaim: readString(env, "AUTH_SITE_CLAIM", DEFAULT_SITE_CLAIM),
    clinicianRole: readString(env, "AUTH_CLINICIAN_ROLE", DEFAULT_CLINICIAN_ROLE),
    adminRole: readString(env, "AUTH_ADMIN_ROLE", DEFAULT_ADMIN_ROLE),
  };
}
