import { describe, expect, it } from "vitest";
import { readAuthConfig } from "./auth-config.js";

describe("readAuthConfig", () => {
  it("is off without AUTH_ISSUER", () => {
    expect(readAuthConfig({})).toBeUndefined();
  });

  it("refuses half a configuration, naming what is missing", () => {
    expect(() => readAuthConfig({ AUTH_JWKS_URL: "https://idp/jwks" })).toThrow(
      /AUTH_JWKS_URL set without AUTH_ISSUER/,
    );
    expect(() => readAuthConfig({ AUTH_ISSUER: "https://idp" })).toThrow(/AUTH_AUDIENCE/);
    expect(() => readAuthConfig({ AUTH_ISSUER: "https://idp", AUTH_AUDIENCE: "a" })).toThrow(
      /exactly one of AUTH_JWKS_URL/,
    );
    expect(() =>
      readAuthConfig({
        AUTH_ISSUER: "https://idp",
        AUTH_AUDIENCE: "a",
        AUTH_JWKS_URL: "https://x",
        AUTH_JWKS_FILE: "/k",
      }),
    ).toThrow(/exactly one/);
    expect(() =>
      readAuthConfig({ AUTH_ISSUER: "https://idp", AUTH_AUDIENCE: "a", AUTH_JWKS_URL: "ftp://x/k" }),
    ).toThrow(/AUTH_JWKS_URL=ftp:\/\/x\/k is not valid/);
  });

  it("reads every setting with the binding defaults", () => {
    expect(
      readAuthConfig({
        AUTH_ISSUER: "https://idp",
        AUTH_AUDIENCE: "liver",
        AUTH_JWKS_FILE: "/keys/jwks.json",
      }),
    ).toEqual({
      issuer: "https://idp",
      audience: "liver",
      jwks: { kind: "file", file: "/keys/jwks.json" },
      rolesClaim: "roles",
      siteClaim: "site",
      clinicianRole: "liver-clinician",
      adminRole: "liver-admin",
    });
    const custom = readAuthConfig({
      AUTH_ISSUER: "https://idp",
      AUTH_AUDIENCE: "liver",
      AUTH_JWKS_URL: "https://idp/certs",
      AUTH_ROLES_CLAIM: "realm_access.roles",
      AUTH_CLINICIAN_ROLE: "doc",
      AUTH_ADMIN_ROLE: "ops",
    });
    expect(custom?.jwks).toEqual({ kind: "url", url: new URL("https://idp/certs") });
    expect([custom?.rolesClaim, custom?.clinicianRole, custom?.adminRole]).toEqual([
      "realm_access.roles",
      "doc",
      "ops",
    ]);
  });
});
