/**
 * "Signed in as ..." and the sign-out link in the page header. Sign-in itself belongs to the
 * gateway (Envoy's oauth2 filter, or the local bridge's cookie), so the page only asks the
 * gateway's /auth/whoami who its session names; with authentication off (or a gateway
 * without the endpoint) it shows nothing.
 */
import { h } from "./dom.js";

/** Where the gateway answers who is signed in, and where it signs out. */
export const WHOAMI_URL = "/auth/whoami";
export const SIGN_OUT_URL = "/signout";
/** Deadline of the /auth/whoami lookup. */
export const WHOAMI_TIMEOUT_MS = 5000;

/** What /auth/whoami answers. */
export interface Whoami {
  readonly signedIn: boolean;
  readonly subject?: string;
  readonly principal?: string;
  /** True when the token holds the admin role (the approval buttons are shown). */
  readonly admin?: boolean;
}

/** Reads an answer of unknown shape; anything unexpected is "nobody". */
export function parseWhoami(value: unknown): Whoami {
  if (typeof value !== "object" || value === null) return { signedIn: false };
  const record = value as Record<string, unknown>;
  if (record["signedIn"] !== true || typeof record["subject"] !== "string") return { signedIn: false };
  return {
    signedIn: true,
    subject: record["subject"],
    principal: typeof record["principal"] === "string" ? record["principal"] : record["subject"],
    admin: record["admin"] === true,
  };
}

/** Renders the signed-in user into `element` (hidden when nobody is). */
export class SignedInUser {
  constructor(private readonly element: HTMLElement) {}

  show(who: Whoami): void {
    if (!who.signedIn || who.subject === undefined) {
      this.element.hidden = true;
      this.element.replaceChildren();
      return;
    }
    this.element.replaceChildren(
      "Signed in as ",
      h("strong", { title: who.principal ?? who.subject }, who.subject),
      " ",
      h("span", { class: "principal", "data-principal": who.principal ?? "" }, `(${who.principal ?? ""})`),
      " · ",
      h("a", { href: SIGN_OUT_URL }, "Sign out"),
    );
    this.element.hidden = false;
  }

  /** Asks the gateway once; failures leave the element hidden (the page works without it). */
  async load(fetchFn: typeof fetch = fetch): Promise<Whoami> {
    let who: Whoami = { signedIn: false };
    try {
      const response = await fetchFn(WHOAMI_URL, {
        cache: "no-store",
        credentials: "same-origin",
        // Every call of the page has a deadline: a hung gateway must not leave it waiting.
        signal: AbortSignal.timeout(WHOAMI_TIMEOUT_MS),
      });
      if (response.ok) who = parseWhoami(await response.json());
    } catch {
      who = { signedIn: false };
    }
    this.show(who);
    return who;
  }
}
