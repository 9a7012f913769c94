import { describe, expect, it } from "vitest";
import { GATEWAY_SIGN_IN_URL, signInRouteOf } from "./src/sign-in-prompt.js";

const response = (status: number, type: ResponseType = "basic") => ({ status, type });

describe("how the page learns to sign in", () => {
  it("behind Envoy's oauth2: a redirect (or 401) instead of whoami means the gateway signs in", () => {
    expect(signInRouteOf(response(0, "opaqueredirect"), undefined)).toEqual({
      kind: "gateway",
      url: GATEWAY_SIGN_IN_URL,
    });
    expect(signInRouteOf(response(302), undefined)).toEqual({ kind: "gateway", url: "/" });
    expect(signInRouteOf(response(401), undefined)).toEqual({ kind: "gateway", url: "/" });
  });

  it("behind the local bridge: signInRequired says a token must be put in the cookie", () => {
    expect(signInRouteOf(response(200), { signedIn: false, signInRequired: true })).toEqual({
      kind: "local",
    });
    expect(signInRouteOf(response(200), { signedIn: false })).toBe("not-required");
    expect(signInRouteOf(response(200), { signedIn: true, subject: "alice" })).toBe("signed-in");
  });

  it("treats odd answers as no requirement (the prompt still shows after an UNAUTHENTICATED call)", () => {
    expect(signInRouteOf(response(200), "signedIn")).toBe("not-required");
    expect(signInRouteOf(response(200), null)).toBe("not-required");
    expect(signInRouteOf(response(404), undefined)).toBe("not-required");
  });
});
