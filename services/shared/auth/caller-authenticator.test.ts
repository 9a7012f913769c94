import { createHmac, createPublicKey, type JsonWebKey } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Metadata } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuthConfig } from "./auth-config.js";
import { AuthError } from "./auth-error.js";
import { CallerAuthenticator, type RequiredRole } from "./caller-authenticator.js";
import { jwksKeySource } from "./jwks-key-source.js";
import { JwtVerifier } from "./jwt-verifier.js";
import { VerifiedTokenCache } from "./verified-token-cache.js";
import {
  mintTestToken,
  newTestKey,
  startJwksServer,
  type JwksServer,
  type MintOptions,
  type TestKey,
} from "./testing/test-issuer.js";

const ISSUER = "https://idp.test/realms/hospital";
const AUDIENCE = "liver-mesh";

function config(jwksUrl: URL): AuthConfig {
  return {
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { kind: "url", url: jwksUrl },
    rolesClaim: "roles",
    clinicianRole: "liver-clinician",
    adminRole: "liver-admin",
  };
}

function bearer(token: string): Metadata {
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  return metadata;
}

/** "ok <principal>" or "<problem>: <message>", whatever way the authenticator answered. */
async function outcome(
  auth: CallerAuthenticator,
  metadata: Metadata,
  role: RequiredRole = "clinician",
): Promise<string> {
  try {
    const caller = await auth.authenticate(metadata, "Predict", role);
    return `ok ${caller.principal}`;
  } catch (error) {
    if (error instanceof AuthError) return `${error.problem}: ${error.message}`;
    throw error;
  }
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

describe("CallerAuthenticator with a remote JWKS", () => {
  let keyA: TestKey;
  let keyB: TestKey;
  let jwks: JwksServer;
  let auth: CallerAuthenticator;
  const mint = (options: Partial<MintOptions> = {}, key = keyA): Promise<string> =>
    mintTestToken(key, {
      issuer: ISSUER,
      audience: AUDIENCE,
      subject: "alice",
      roles: ["liver-clinician"],
      ...options,
    });

  beforeAll(async () => {
    keyA = await newTestKey("key-a");
    keyB = await newTestKey("key-b");
    jwks = await startJwksServer([keyA.publicJwk]);
    const cfg = config(jwks.url);
    // No cooldown, so the rotation test can refetch at once.
    const keys = jwksKeySource(cfg.jwks, { maxAgeMs: 600_000, cooldownMs: 0, timeoutMs: 5_000 });
    auth = new CallerAuthenticator(cfg, new JwtVerifier(cfg, keys));
  });
  afterAll(async () => {
    await jwks.close();
  });

  it("accepts a valid token and names its principal as issuer|subject", async () => {
    expect(await outcome(auth, bearer(await mint()))).toBe(`ok ${ISSUER}|alice`);
  });

  it("answers a cached token synchronously, without verifying it again", async () => {
    const token = await mint({ subject: "cached" });
    await auth.authenticate(bearer(token), "Predict", "clinician");
    const again = auth.authenticate(bearer(token), "Predict", "clinician");
    expect(again).not.toBeInstanceOf(Promise);
    expect((again as { principal: string }).principal).toBe(`${ISSUER}|cached`);
  });

  it("refuses an expired token, saying it expired", async () => {
    expect(await outcome(auth, bearer(await mint({ expiresInS: -120 })))).toMatch(
      /^unauthenticated: .*expired at/,
    );
  });

  it("tolerates a few seconds of clock skew on exp", async () => {
    expect(await outcome(auth, bearer(await mint({ expiresInS: -5 })))).toBe(`ok ${ISSUER}|alice`);
  });

  it("refuses a token that is not valid yet", async () => {
    expect(await outcome(auth, bearer(await mint({ notBeforeInS: 600 })))).toMatch(
      /^unauthenticated: .*not valid yet/,
    );
  });

  it("refuses a wrong issuer and a wrong audience, naming each", async () => {
    expect(await outcome(auth, bearer(await mint({ issuer: "https://evil.test" })))).toMatch(
      /^unauthenticated: .*wrong issuer "https:\/\/evil.test"/,
    );
    expect(await outcome(auth, bearer(await mint({ audience: "another-app" })))).toMatch(
      /^unauthenticated: .*wrong audience "another-app"/,
    );
  });

  it("refuses a token without sub", async () => {
    expect(await outcome(auth, bearer(await mint({ subject: undefined })))).toMatch(
      /^unauthenticated: .*no sub claim/,
    );
  });

  it("refuses a sub that is not a non-blank string: an array would pass for another principal", async () => {
    for (const sub of [["alice"], 123, { id: "alice" }, "   "]) {
      const token = await mint({ subject: undefined, extra: { sub: sub as unknown as string } });
      expect(await outcome(auth, bearer(token))).toMatch(
        /^unauthenticated: .*sub claim is not a non-empty string/,
      );
    }
  });

  it("refuses a key the issuer does not publish, then accepts it once the JWKS rotates to it", async () => {
    const token = await mint({ subject: "bob" }, keyB);
    expect(await outcome(auth, bearer(token))).toMatch(
      /^unauthenticated: .*unknown signing key \(kid "key-b"\)/,
    );
    const before = jwks.fetches();
    jwks.keys = [keyA.publicJwk, keyB.publicJwk];
    expect(await outcome(auth, bearer(token))).toBe(`ok ${ISSUER}|bob`);
    expect(jwks.fetches()).toBeGreaterThan(before);
    // The old key still works while the issuer publishes both.
    expect(await outcome(auth, bearer(await mint({ subject: "carol" })))).toBe(`ok ${ISSUER}|carol`);
  });

  it("refuses alg none", async () => {
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${base64url({ alg: "none", typ: "JWT" })}.${base64url({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: "mallory",
      exp: now + 300,
      roles: ["liver-admin"],
    })}.`;
    expect(await outcome(auth, bearer(unsigned), "admin")).toMatch(
      /^unauthenticated: .*algorithm "none" is not accepted/,
    );
  });

  it("refuses HS256 signed with the issuer's public key as the secret", async () => {
    const now = Math.floor(Date.now() / 1000);
    const pem = createPublicKey({ key: keyA.publicJwk as JsonWebKey, format: "jwk" }).export({
      type: "spki",
      format: "pem",
    });
    const signingInput = `${base64url({ alg: "HS256", typ: "JWT", kid: "key-a" })}.${base64url({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: "mallory",
      exp: now + 300,
      roles: ["liver-admin"],
    })}`;
    for (const secret of [pem, JSON.stringify(keyA.publicJwk)]) {
      const mac = createHmac("sha256", secret).update(signingInput).digest("base64url");
      expect(await outcome(auth, bearer(`${signingInput}.${mac}`), "admin")).toMatch(
        /^unauthenticated: .*algorithm "HS256" is not accepted/,
      );
    }
  });

  it("refuses an altered payload", async () => {
    const [header = "", , signature = ""] = (await mint()).split(".");
    const forged = `${header}.${base64url({ iss: ISSUER, aud: AUDIENCE, sub: "mallory", exp: 4_000_000_000 })}.${signature}`;
    expect(await outcome(auth, bearer(forged))).toMatch(/^unauthenticated: .*signature does not verify/);
  });

  it("refuses missing, repeated and malformed authorization metadata", async () => {
    expect(await outcome(auth, new Metadata())).toMatch(/^unauthenticated: Predict requires authentication/);
    const twice = bearer(await mint());
    twice.add("authorization", "Bearer x");
    expect(await outcome(auth, twice)).toMatch(/more than once/);
    const basic = new Metadata();
    basic.set("authorization", "Basic YWxpY2U6cHc=");
    expect(await outcome(auth, basic)).toMatch(/^unauthenticated: authorization metadata is malformed/);
    expect(await outcome(auth, bearer("not.a.jwt"))).toMatch(
      /^unauthenticated: access token refused: it is malformed/,
    );
  });

  it("needs the clinician role for clinician methods, naming it", async () => {
    expect(await outcome(auth, bearer(await mint({ roles: ["nurse"] })))).toMatch(
      /^permission-denied: Predict needs the liver-clinician \(or liver-admin\) role; alice has roles nurse/,
    );
    expect(await outcome(auth, bearer(await mint({ roles: undefined })))).toMatch(
      /^permission-denied: .*no roles/,
    );
  });

  it("needs the admin role for admin methods; admins may also do clinician work", async () => {
    expect(await outcome(auth, bearer(await mint()), "admin")).toMatch(
      /^permission-denied: Predict needs the liver-admin role/,
    );
    const admin = await mint({ subject: "root", roles: "liver-admin other" });
    expect(await outcome(auth, bearer(admin), "admin")).toBe(`ok ${ISSUER}|root`);
    expect(await outcome(auth, bearer(admin), "clinician")).toBe(`ok ${ISSUER}|root`);
  });

  it("answers UNAVAILABLE, not a refusal of the token, when the JWKS cannot be fetched", async () => {
    const dead = await startJwksServer([]);
    await dead.close();
    const cfg = config(dead.url);
    const offline = new CallerAuthenticator(cfg, new JwtVerifier(cfg, jwksKeySource(cfg.jwks)));
    expect(await outcome(offline, bearer(await mint()))).toMatch(
      /^unavailable: the issuer's keys cannot be fetched/,
    );
  });
});

describe("CallerAuthenticator with a JWKS file", () => {
  it("reads the file's keys, follows a rewrite of the file, and reads nested roles claims", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "liver-jwks-"));
    const file = path.join(dir, "jwks.json");
    const first = await newTestKey("first");
    const second = await newTestKey("second");
    writeFileSync(file, JSON.stringify({ keys: [first.publicJwk] }));
    const cfg: AuthConfig = {
      ...config(new URL("http://unused")),
      jwks: { kind: "file", file },
      rolesClaim: "realm_access.roles",
    };
    const auth = new CallerAuthenticator(cfg);
    const claims = {
      issuer: ISSUER,
      audience: AUDIENCE,
      subject: "dora",
      extra: { realm_access: { roles: ["liver-clinician"] } },
    };
    expect(await outcome(auth, bearer(await mintTestToken(first, claims)))).toBe(`ok ${ISSUER}|dora`);
    const rotated = await mintTestToken(second, claims);
    expect(await outcome(auth, bearer(rotated))).toMatch(/unknown signing key/);
    writeFileSync(
      file,
      JSON.stringify({
        keys: [first.publicJwk, second.publicJwk, { kty: "oct", k: "c2VjcmV0", kid: "sym" }],
      }),
    );
    expect(await outcome(auth, bearer(rotated))).toBe(`ok ${ISSUER}|dora`);
  });

  it("stops answering a cached token within the re-check interval once its key leaves the file", async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "jwks-revoke-")), "jwks.json");
    const revoked = await newTestKey("revoked");
    const kept = await newTestKey("kept");
    writeFileSync(file, JSON.stringify({ keys: [revoked.publicJwk, kept.publicJwk] }));
    const cfg: AuthConfig = { ...config(new URL("http://unused")), jwks: { kind: "file", file } };
    const reverifyMs = 200;
    const auth = new CallerAuthenticator(
      cfg,
      new JwtVerifier(cfg, jwksKeySource(cfg.jwks)),
      new VerifiedTokenCache(100, reverifyMs),
    );
    // An issuer's token with an exp a year away: without a re-check it would live that long.
    const claims = { issuer: ISSUER, audience: AUDIENCE, subject: "eve", roles: ["liver-clinician"] };
    const token = await mintTestToken(revoked, { ...claims, expiresInS: 365 * 86_400 });
    const other = await mintTestToken(kept, { ...claims, subject: "frank", expiresInS: 365 * 86_400 });
    expect(await outcome(auth, bearer(token))).toBe(`ok ${ISSUER}|eve`);
    expect(await outcome(auth, bearer(other))).toBe(`ok ${ISSUER}|frank`);
    writeFileSync(file, JSON.stringify({ keys: [kept.publicJwk] }));
    // Still cached right after the key is withdrawn (answered without a signature check)...
    expect(auth.authenticate(bearer(token), "Predict", "clinician")).not.toBeInstanceOf(Promise);
    await new Promise((resolve) => setTimeout(resolve, reverifyMs + 50));
    // ...then re-checked: refused, while a token of the key that stays keeps working.
    expect(await outcome(auth, bearer(token))).toMatch(/^unauthenticated: .*unknown signing key/);
    expect(await outcome(auth, bearer(other))).toBe(`ok ${ISSUER}|frank`);
  });

  it("fails closed when the key file is broken or deleted, until a valid key set is back", async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "jwks-broken-")), "jwks.json");
    const key = await newTestKey("only");
    writeFileSync(file, JSON.stringify({ keys: [key.publicJwk] }));
    const cfg: AuthConfig = { ...config(new URL("http://unused")), jwks: { kind: "file", file } };
    const verifier = new JwtVerifier(cfg, jwksKeySource(cfg.jwks));
    // A new cache per call: each call verifies the signature against the file as it is now.
    const check = async (token: string): Promise<string> =>
      outcome(new CallerAuthenticator(cfg, verifier, new VerifiedTokenCache()), bearer(token));
    const claims = { issuer: ISSUER, audience: AUDIENCE, subject: "gail", roles: ["liver-clinician"] };
    const token = await mintTestToken(key, claims);
    expect(await check(token)).toBe(`ok ${ISSUER}|gail`);
    writeFileSync(file, "{}");
    for (let attempt = 0; attempt < 2; attempt++) {
      expect(await check(token)).toMatch(/^unavailable: .*AUTH_JWKS_FILE .* is not a JWKS/);
    }
    rmSync(file);
    for (let attempt = 0; attempt < 2; attempt++) {
      expect(await check(token)).toMatch(/^unavailable: .*AUTH_JWKS_FILE .* is missing/);
    }
    writeFileSync(file, JSON.stringify({ keys: [key.publicJwk] }));
    expect(await check(token)).toBe(`ok ${ISSUER}|gail`);
  });

  it("refuses to start on a missing or invalid key file, naming it", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "jwks-start-"));
    const missing = path.join(dir, "absent.json");
    expect(() => jwksKeySource({ kind: "file", file: missing })).toThrow(
      /AUTH_JWKS_FILE .*absent.json is missing/,
    );
    const invalid = path.join(dir, "invalid.json");
    writeFileSync(invalid, "not json");
    expect(() => jwksKeySource({ kind: "file", file: invalid })).toThrow(
      /AUTH_JWKS_FILE .*invalid.json is not JSON/,
    );
  });
});
