import { Metadata, status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import type { Caller } from "../auth/caller.js";
import { parseTrustedAddresses } from "../net/trusted-gateways.js";
import { DEFAULT_SITE, siteNameProblem } from "./site-name.js";
import { SiteRefusal, SiteResolver } from "./site-resolver.js";

const resolver = new SiteResolver(parseTrustedAddresses("10.0.0.0/8,::1/128"));
const GATEWAY = "10.1.2.3:40000";
const STRANGER = "192.0.2.9:40000";

function headers(...sites: string[]): Metadata {
  const metadata = new Metadata();
  for (const site of sites) metadata.add("x-liver-site", site);
  return metadata;
}

function caller(site?: string): Caller {
  return {
    principal: "https://idp|alice",
    issuer: "https://idp",
    subject: "alice",
    roles: ["liver-clinician"],
    admin: false,
    ...(site === undefined ? {} : { site }),
  };
}

function refusal(run: () => unknown): { code: number; details: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof SiteRefusal) return { code: error.status.code, details: error.status.details };
    throw error;
  }
  throw new Error("expected a SiteRefusal");
}

describe("the site of a call", () => {
  it("is the default site without sign-in or header, and the gateway's header from a trusted gateway", () => {
    expect(resolver.resolve(STRANGER, new Metadata(), undefined)).toBe(DEFAULT_SITE);
    expect(resolver.resolve(GATEWAY, headers("clinic-a"), undefined)).toBe("clinic-a");
    expect(resolver.resolve("[::1]:5000", headers("clinic-b"), undefined)).toBe("clinic-b");
  });

  it("refuses x-liver-site from a peer that is no trusted gateway", () => {
    const refused = refusal(() => resolver.resolve(STRANGER, headers("clinic-a"), undefined));
    expect(refused.code).toBe(status.PERMISSION_DENIED);
    expect(refused.details).toMatch(/x-liver-site is believed only from a trusted gateway/);
    // The same for a signed-in caller whose claim says the same site: the header proves nothing.
    expect(refusal(() => resolver.resolve(STRANGER, headers("clinic-a"), caller("clinic-a"))).code).toBe(
      status.PERMISSION_DENIED,
    );
  });

  it("is the JWT's site claim with sign-in, and refuses a gateway header that disagrees", () => {
    expect(resolver.resolve(STRANGER, new Metadata(), caller("clinic-a"))).toBe("clinic-a");
    expect(resolver.resolve(GATEWAY, headers("clinic-a"), caller("clinic-a"))).toBe("clinic-a");
    const refused = refusal(() => resolver.resolve(GATEWAY, headers("clinic-b"), caller("clinic-a")));
    expect(refused.code).toBe(status.PERMISSION_DENIED);
    expect(refused.details).toMatch(/site clinic-b .* access token says site clinic-a/);
    // Signed in without a site claim: the gateway's header decides, else the default site.
    expect(resolver.resolve(GATEWAY, headers("clinic-b"), caller())).toBe("clinic-b");
    expect(resolver.resolve(STRANGER, new Metadata(), caller())).toBe(DEFAULT_SITE);
  });

  it("answers INVALID_ARGUMENT for bad names, repeated headers and bad claims", () => {
    for (const bad of ["", "Clinic-A", "clinic_a", "-a", "a-", "a".repeat(64), "a b", "../x"]) {
      const refused = refusal(() => resolver.resolve(GATEWAY, headers(bad), undefined));
      expect(refused.code, bad).toBe(status.INVALID_ARGUMENT);
      expect(refused.details).toMatch(/^x-liver-site /);
    }
    expect(refusal(() => resolver.resolve(GATEWAY, headers("a", "b"), undefined)).details).toMatch(/2 times/);
    expect(refusal(() => resolver.resolve(STRANGER, new Metadata(), caller("Nope!"))).code).toBe(
      status.INVALID_ARGUMENT,
    );
  });

  it("accepts DNS-label-like names up to 63 characters", () => {
    for (const good of ["a", "clinic-a", "st-marys-2", "x".repeat(63)])
      expect(siteNameProblem(good)).toBeUndefined();
  });
});
