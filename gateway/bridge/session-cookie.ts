import type { IncomingMessage, ServerResponse } from "node:http";
import { parseCookie } from "cookie";
import { AuthError } from "../../services/shared/auth/auth-error.js";
import type { CallerAuthenticator } from "../../services/shared/auth/caller-authenticator.js";

/**
 * The browser session as Envoy's oauth2 filter keeps it, done the same way by the local
 * bridge so the page behaves alike behind either: the access token lives in the HTTP-only
 * `BearerToken` cookie (the filter's default name) and is forwarded upstream as
 * `authorization: Bearer <token>`; `/signout` clears it; `/auth/whoami` tells the page who
 * is signed in (Envoy answers it from the verified JWT's claims, see envoy.yaml).
 */
export const SESSION_COOKIE = "BearerToken";
/** Clears the session and returns to the page (Envoy's oauth2 `signout_path`). */
export const SIGN_OUT_PATH = "/signout";
/** JSON `{ signedIn, subject?, issuer?, principal? }` for the page's "signed in as". */
export const WHOAMI_PATH = "/auth/whoami";

const TOKEN = /^[A-Za-z0-9._~+/=-]{1,16384}$/;

/**
 * The session cookie's token from a Cookie header, or undefined when absent or not a token.
 * Taken raw: a token is never percent-encoded, so "%" is refused, not decoded into another.
 */
export function bearerFromCookie(cookieHeader: string | undefined): string | undefined {
  const value = parseCookie(cookieHeader ?? "", { decode: (raw) => raw })[SESSION_COOKIE];
  return value !== undefined && TOKEN.test(value) ? value : undefined;
}

/** What `/auth/whoami` answers. */
export interface Whoami {
  readonly signedIn: boolean;
  readonly subject?: string;
  readonly issuer?: string;
  readonly principal?: string;
  /** Whether the token holds the admin role (the page then shows the approval buttons). */
  readonly admin?: boolean;
  /** Why a present cookie does not sign anyone in (expired, unknown key...). */
  readonly problem?: string;
  /** Authentication is on and nobody is signed in: the page says how to sign in. */
  readonly signInRequired?: boolean;
}

/**
 * Serves SIGN_OUT_PATH and WHOAMI_PATH; false for any other path. `auth` verifies the
 * cookie's token for whoami (undefined: authentication is off, nobody is signed in).
 */
export async function serveSessionPath(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  auth: CallerAuthenticator | undefined,
): Promise<boolean> {
  if (path === SIGN_OUT_PATH && (req.method === "GET" || req.method === "POST")) {
    res
      .writeHead(302, {
        location: "/",
        "set-cookie": `${SESSION_COOKIE}=deleted; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`,
        "cache-control": "no-store",
      })
      .end();
    return true;
  }
  if (path !== WHOAMI_PATH || req.method !== "GET") return false;
  const token = bearerFromCookie(req.headers.cookie);
  let answer: Whoami = auth === undefined ? { signedIn: false } : { signedIn: false, signInRequired: true };
  if (token !== undefined && auth !== undefined) {
    try {
      const caller = await auth.identify(token);
      answer = {
        signedIn: true,
        subject: caller.subject,
        issuer: caller.issuer,
        principal: caller.principal,
        admin: caller.admin,
      };
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      answer = { signedIn: false, signInRequired: true, problem: error.message };
    }
  }
  res
    .writeHead(200, { "content-type": "application/json", "cache-control": "no-store" })
    .end(JSON.stringify(answer));
  return true;
}
