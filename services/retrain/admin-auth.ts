import { createHash, timingSafeEqual } from "node:crypto";
import { status, type Metadata } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { AuthError } from "../shared/auth/auth-error.js";
import { readBearerToken } from "../shared/auth/bearer-token.js";
import type { CallerAuthenticator } from "../shared/auth/caller-authenticator.js";
import { grpcError } from "../shared/grpc/grpc-errors.js";
import { RpcFailure, rpcFailure } from "../shared/grpc/rpc-failure.js";

/** Principal recorded for admin actions taken with the static ADMIN_TOKEN. */
export const BREAK_GLASS_PRINCIPAL = "break-glass";

/** Who is acting as admin, for the audit log of every admin action. */
export interface AdminIdentity {
  /** "issuer|subject" of an admin's JWT, or BREAK_GLASS_PRINCIPAL for the ADMIN_TOKEN. */
  readonly principal: string;
  readonly breakGlass: boolean;
}

/**
 * The one admin check every admin RPC goes through (TriggerRetrain, RollbackModel, the
 * feedback-review RPCs). Accepts `authorization: Bearer <JWT>` holding the admin role when
 * AUTH_ISSUER is set, and the static ADMIN_TOKEN as a break-glass credential (logged as
 * such on every use). With neither configured the admin RPCs are off, and the refusal says
 * how to turn them on. No usable credential is UNAUTHENTICATED, a wrong one PERMISSION_DENIED.
 */
export class AdminAuth {
  private readonly expected: Buffer | undefined;

  constructor(
    adminToken: string | undefined,
    private readonly callers: CallerAuthenticator | undefined,
    private readonly logger: Logger,
  ) {
    this.expected = adminToken === undefined ? undefined : digest(adminToken);
  }

  /** Whether any admin credential is configured. */
  get enabled(): boolean {
    return this.expected !== undefined || this.callers !== undefined;
  }

  /** The admin calling `method`; rejects with an RpcFailure carrying the status to answer. */
  async authorize(metadata: Metadata, method: string): Promise<AdminIdentity> {
    if (!this.enabled) {
      throw new RpcFailure(
        grpcError(
          status.FAILED_PRECONDITION,
          `${method} is an admin RPC and admin RPCs are disabled: no ADMIN_TOKEN is configured and AUTH_ISSUER is unset on the RetrainService. ` +
            "Set ADMIN_TOKEN as a break-glass credential (for example: export ADMIN_TOKEN=$(openssl rand -hex 32)) or AUTH_ISSUER " +
            "(admins then send a JWT with the admin role), restart it, and send the metadata 'authorization: Bearer <token>'",
        ),
      );
    }
    const expected = this.callers === undefined ? "ADMIN_TOKEN" : "access token (JWT) or ADMIN_TOKEN";
    let token: string;
    try {
      token = readBearerToken(metadata, `${method} is an admin RPC and`, expected);
    } catch (error) {
      throw error instanceof AuthError ? new RpcFailure(error.toStatus()) : error;
    }
    if (this.expected !== undefined && timingSafeEqual(digest(token), this.expected)) {
      this.logger.warn(
        { method, principal: BREAK_GLASS_PRINCIPAL },
        `break-glass: ${method} authorized by the static ADMIN_TOKEN`,
      );
      return { principal: BREAK_GLASS_PRINCIPAL, breakGlass: true };
    }
    if (this.callers === undefined || token.split(".").length !== 3) {
      throw rpcFailure(
        status.PERMISSION_DENIED,
        this.callers === undefined
          ? "the bearer token is not this RetrainService's ADMIN_TOKEN"
          : "the bearer token is neither this RetrainService's ADMIN_TOKEN nor a JWT",
      );
    }
    try {
      const caller = await this.callers.authenticateToken(token, method, "admin");
      return { principal: caller.principal, breakGlass: false };
    } catch (error) {
      throw error instanceof AuthError ? new RpcFailure(error.toStatus()) : error;
    }
  }
}

/** Fixed-length digests, so the comparison takes the same time whatever the token's length. */
function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}
