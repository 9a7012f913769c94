import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { DEV_AUDIENCE, DEV_ISSUER, DevIssuer } from "../services/shared/auth/dev-issuer.js";

function token(dataPath: string, ...args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", "scripts/token.ts", ...args], {
    encoding: "utf8",
    env: { ...process.env, DATA_PATH: dataPath },
  });
}

describe("npm run token", () => {
  it("explains itself, refuses bad options and a missing issuer, and mints a short-lived token", async () => {
    const dataPath = mkdtempSync(path.join(tmpdir(), "token-cli-"));
    const help = token(dataPath, "--help");
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--sub NAME.*\n[\s\S]*grpcurl[\s\S]*BearerToken=/);
    expect(token(dataPath, "--role", "liver-clinician").stderr).toMatch(/--sub NAME is required/);
    expect(token(dataPath, "--sub", "alice", "--ttl", "999999").stderr).toMatch(/--ttl 999999 is not valid/);
    const missing = token(dataPath, "--sub", "alice");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/npm start -- --auth dev/);

    await DevIssuer.loadOrCreate(dataPath);
    const minted = token(dataPath, "--sub", "alice", "--role", "liver-admin", "--ttl", "120");
    expect(minted.status).toBe(0);
    const claims = decodeJwt(minted.stdout.trim());
    expect(claims).toMatchObject({
      iss: DEV_ISSUER,
      aud: DEV_AUDIENCE,
      sub: "alice",
      roles: ["liver-admin"],
    });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(120);
  });
});
