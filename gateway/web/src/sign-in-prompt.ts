/**
 * The signed-out page says how to sign in, instead of a raw "UNAUTHENTICATED ... Bearer".
 * Which way depends on the gateway in front:
 *
 * - Envoy with its oauth2 filter answers any page request without a session with a redirect
 *   to the hospital's sign-in (the page's own request for /auth/whoami, made without
 *   following redirects, comes back as one). Loading the page again goes through that
 *   sign-in and back, so the prompt links to it.
 * - The local bridge has no sign-in page: its /auth/whoami says `signInRequired` when
 *   authentication is on, and the prompt tells how a developer gets a token into the
 *   session cookie (the README's "Signing in").
 *
 * The prompt also appears when a call is refused as UNAUTHENTICATED (a session that ended).
 */
import { h } from "./dom.js";
import { WHOAMI_URL } from "./signed-in-user.js";

/** How this gateway signs people in. */
export type SignInRoute =
  | { readonly kind: "gateway"; readonly url: string }
  | { readonly kind: "local" }
  | { readonly kind: "unknown" };

/** Where the gateway's sign-in starts: the page itself, which the gateway redirects. */
export const GATEWAY_SIGN_IN_URL = "/";

/** The token command the README gives for `npm start -- --auth dev`. */
export const DEV_TOKEN_COMMAND = "npm run -s token -- --sub <your name> --role liver-clinician";

/** What a whoami answer (or a redirect instead of one) says about signing in; signedIn true: none needed. */
export function signInRouteOf(
  response: Pick<Response, "type" | "status">,
  body: unknown,
): SignInRoute | "signed-in" | "not-required" {
  if (response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400))
    return { kind: "gateway", url: GATEWAY_SIGN_IN_URL };
  if (response.status === 401) return { kind: "gateway", url: GATEWAY_SIGN_IN_URL };
  if (typeof body !== "object" || body === null) return "not-required";
  const record = body as Record<string, unknown>;
  if (record["signedIn"] === true) return "signed-in";
  return record["signInRequired"] === true ? { kind: "local" } : "not-required";
}

/** The prompt's content for a route. */
export function signInContent(route: SignInRoute): (Node | string)[] {
  const lead = "You are not signed in (or your session has ended). Predictions and feedback need sign-in.";
  switch (route.kind) {
    case "gateway":
      return [
        lead,
        " ",
        h("a", { href: route.url, class: "sign-in-link" }, "Sign in"),
        " (the hospital's sign-in page opens and brings you back here).",
      ];
    case "local":
      return [
        lead,
        " This local gateway has no sign-in page of its own: create a token with ",
        h("code", {}, DEV_TOKEN_COMMAND),
        ", put it in this page's BearerToken cookie as the README's \"Signing in\" section shows, then reload the page.",
      ];
    default:
      return [
        lead,
        " ",
        h("a", { href: GATEWAY_SIGN_IN_URL, class: "sign-in-link" }, "Reload to sign in"),
        "; if no sign-in page appears, ask your administrator how to sign in here.",
      ];
  }
}

/** The sign-in note under the page header. */
export class SignInPrompt {
  private route: SignInRoute = { kind: "unknown" };

  constructor(private readonly element: HTMLElement) {}

  /** Asks the gateway once; shows the prompt at once when it says nobody is signed in but must be. */
  async load(fetchFn: typeof fetch = fetch): Promise<void> {
    try {
      const response = await fetchFn(WHOAMI_URL, {
        cache: "no-store",
        credentials: "same-origin",
        redirect: "manual",
      });
      const body: unknown =
        response.ok && (response.headers.get("content-type") ?? "").includes("json")
          ? await response.json()
          : undefined;
      const route = signInRouteOf(response, body);
      if (route === "signed-in" || route === "not-required") return;
      this.route = route;
      this.show();
    } catch {
      // No answer: the page works without it; a refused call still shows the prompt.
    }
  }

  /** Shows how to sign in (after an UNAUTHENTICATED answer, or from load). */
  show(): void {
    this.element.replaceChildren(h("p", {}, ...signInContent(this.route)));
    this.element.hidden = false;
  }
}
