import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Metadata } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { readAuthConfig } from "./auth-config.js";
import { CallerAuthenticator } from "./caller-authenticator.js";
import { DEV_ISSUER, DevIssuer } from "./dev-issuer.js";

describe("DevIssuer", () => {
  it("creates one private key per data folder, and its tokens pass the services' own check", async () => {
    const dataPath = mkdtempSync(path.join(tmpdir(), "dev-issuer-"));
    await expect(DevIssuer.load(dataPath)).rejects.toThrow(/npm start -- --auth dev/);
    const issuer = await DevIssuer.loadOrCreate(dataPath);
    expect(statSync(path.join(DevIssuer.folder(dataPath), "signing-key.jwk.json")).mode & 0o777).toBe(0o600);
    const again = await DevIssuer.loadOrCreate(dataPath);
    const config = readAuthConfig(issuer.serviceEnv());
    if (config === undefined) throw new Error("no auth config");
    const auth = new CallerAuthenticator(config);
    const metadata = new Metadata();
    // A token of the reloaded issuer verifies against the JWKS written at creation: same key.
    metadata.set("authorization", `Bearer ${await again.mint("alice", ["liver-clinician"], 60)}`);
    expect((await auth.authenticate(metadata, "Predict", "clinician")).principal).toBe(`${DEV_ISSUER}|alice`);
    await expect(issuer.mint("alice", [], 0)).rejects.toThrow(/lifetime/);
    await expect(issuer.mint("", [], 60)).rejects.toThrow(/subject/);
  });
});
