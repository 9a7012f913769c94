/**
 * Who made a call, once its access token was verified. `principal` is what feedback tokens
 * and the feedback table carry: issuer and subject joined by "|" (unambiguous, because a
 * deployment trusts exactly one issuer, AUTH_ISSUER).
 */
export interface Caller {
  readonly principal: string;
  readonly issuer: string;
  readonly subject: string;
  readonly roles: readonly string[];
  /** Whether the caller holds the admin role. */
  readonly admin: boolean;
  /** The token's site claim (AUTH_SITE_CLAIM) as written, unvalidated; undefined when absent. */
  readonly site?: string | undefined;
}

/** The principal of calls made while authentication is off. */
export const ANONYMOUS_PRINCIPAL = "";

/** The principal string of an issuer and subject. */
export function principalOf(issuer: string, subject: string): string {
  return `${issuer}|${subject}`;
}

/** Longest principal, in UTF-8 bytes, a feedback token carries; longer subjects are refused. */
export const MAX_PRINCIPAL_BYTES = 512;
