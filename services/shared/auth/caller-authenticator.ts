import type { Metadata } from "@grpc/grpc-js";
import type { AuthConfig } from "./auth-config.js";
import { AuthError } from "./auth-error.js";
import { readBearerToken } from "./bearer-token.js";
import type { Caller } from "./caller.js";
import { jwksKeySource } from "./jwks-key-source.js";
import { JwtVerifier } from "./jwt-verifier.js";
import { VerifiedTokenCache } from "./verified-token-cache.js";

/** What a method needs: the clinician role (admins qualify too) or the admin role. */
export type RequiredRole = "clinician" | "admin";

/**
 * The services' one gate for access tokens: reads `authorization: Bearer <JWT>`, verifies it
 * (or finds it in the cache of verified tokens) and checks the role the method needs.
 * Answers synchronously when the token is cached, so Predict's hot path stays synchronous.
 */
export class CallerAuthenticator {
  private readonly cache: VerifiedTokenCache;

  constructor(
    readonly config: AuthConfig,
    private readonly verifier: JwtVerifier = new JwtVerifier(config, jwksKeySource(config.jwks)),
    cache = new VerifiedTokenCache(),
  ) {
    this.cache = cache;
  }

  /**
   * The caller of `method` when its token is valid and holds `role`; throws (or rejects
   * with) an AuthError otherwise: "unauthenticated" for a missing or bad token,
   * "permission-denied" naming the role for a valid token without it.
   */
  authenticate(metadata: Metadata, method: string, role: RequiredRole): Caller | Promise<Caller> {
    const token = readBearerToken(metadata, method, "access token (JWT)");
    return this.authenticateToken(token, method, role);
  }

  /** As authenticate, for a token already taken from the metadata. */
  authenticateToken(token: string, method: string, role: RequiredRole): Caller | Promise<Caller> {
    const key = VerifiedTokenCache.keyOf(token);
    const cached = this.cache.get(key, Date.now());
    if (cached !== undefined) return this.authorize(cached.caller, method, role);
    return this.verifier.verify(token).then((verified) => {
      this.cache.set(key, verified, Date.now());
      return this.authorize(verified.caller, method, role);
    });
  }

  /** Who a token names, verified (or cached) but without any role check: for display. */
  identify(token: string): Caller | Promise<Caller> {
    const key = VerifiedTokenCache.keyOf(token);
    const cached = this.cache.get(key, Date.now());
    if (cached !== undefined) return cached.caller;
    return this.verifier.verify(token).then((verified) => {
      this.cache.set(key, verified, Date.now());
      return verified.caller;
    });
  }

  private authorize(caller: Caller, method: string, role: RequiredRole): Caller {
    if (caller.admin) return caller;
    if (role === "clinician" && caller.roles.includes(this.config.clinicianRole)) return caller;
    const needed =
      role === "admin"
        ? `the ${this.config.adminRole} role`
        : `the ${this.config.clinicianRole} (or ${this.config.adminRole}) role`;
    throw new AuthError(
      "permission-denied",
      `${method} needs ${needed}; ${caller.subject} has ${caller.roles.length === 0 ? "no roles" : `roles ${caller.roles.join(", ")}`} in claim ${this.config.rolesClaim}`,
    );
  }
}
