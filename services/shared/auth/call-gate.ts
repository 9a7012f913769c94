import type { Metadata } from "@grpc/grpc-js";
import { ANONYMOUS_PRINCIPAL, type Caller } from "./caller.js";
import type { CallerAuthenticator } from "./caller-authenticator.js";

/**
 * What a method asks of its caller. Every RPC of both services has exactly one entry in its
 * service's access table (rpc-middleware.ts refuses to start otherwise):
 * "open" (health-like reads, the version stream), "clinician" (a token with the clinician or
 * admin role when authentication is on) or "admin" (an admin's token or the break-glass one).
 */
export type Access = "open" | "clinician" | "admin";

/** Who made a call, as its handler receives it. */
export interface CallIdentity {
  /** "issuer|subject", the break-glass principal, or ANONYMOUS_PRINCIPAL (open method or auth off). */
  readonly principal: string;
  /** The verified caller of a clinician method; undefined when authentication is off or not asked. */
  readonly caller: Caller | undefined;
  /** Whether an admin method was authorized by the static break-glass token. */
  readonly breakGlass: boolean;
}

/** The admin check of a service that has admin RPCs (RetrainService's AdminAuth). */
export interface AdminCheck {
  /** The admin's identity; rejects with an RpcFailure or AuthError carrying the refusal. */
  authorize(metadata: Metadata, method: string): Promise<{ principal: string; breakGlass: boolean }>;
}

/** The identity of a call that asked for none. */
export const ANONYMOUS_CALL: CallIdentity = Object.freeze({
  principal: ANONYMOUS_PRINCIPAL,
  caller: undefined,
  breakGlass: false,
});

/**
 * Admits a call to a method of a given Access, once, before its handler runs: the one place
 * that knows whether authentication is configured. Answers synchronously when the token is
 * in the verified-token cache, so Predict's hot path stays synchronous; throws (or rejects
 * with) an AuthError or RpcFailure for a refusal.
 */
export class CallGate {
  constructor(
    /** Checks clinicians' access tokens; undefined when authentication is off (AUTH_ISSUER unset). */
    private readonly callers: CallerAuthenticator | undefined,
    /** Checks admin credentials; undefined for a service without admin RPCs. */
    private readonly admins?: AdminCheck,
  ) {}

  /** Whether this gate can admit calls to `access` methods (checked when handlers are wired). */
  admits(access: Access): boolean {
    return access !== "admin" || this.admins !== undefined;
  }

  /** The identity of a call to `method`, which needs `access`. */
  admit(access: Access, metadata: Metadata, method: string): CallIdentity | Promise<CallIdentity> {
    if (access === "open") return ANONYMOUS_CALL;
    if (access === "admin") {
      if (this.admins === undefined)
        throw new Error(`${method} needs an admin check this service was not given`);
      return this.admins
        .authorize(metadata, method)
        .then((admin) => ({ principal: admin.principal, caller: undefined, breakGlass: admin.breakGlass }));
    }
    if (this.callers === undefined) return ANONYMOUS_CALL;
    const caller = this.callers.authenticate(metadata, method, "clinician");
    return caller instanceof Promise ? caller.then(identityOf) : identityOf(caller);
  }
}

function identityOf(caller: Caller): CallIdentity {
  return { principal: caller.principal, caller, breakGlass: false };
}
