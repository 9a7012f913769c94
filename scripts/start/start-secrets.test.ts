/**
 * Secrets never reach git: runs the key generators of `npm start`, `--auth dev` and `--tls`
 * into the repository's data folder layout (a temp git repository holding a copy of the
 * repository's .gitignore) and checks that git ignores every file that holds a key, and that
 * `git add -A` would pick up nothing the start wrote.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepareStartSecrets } from "./start-secrets.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function filesUnder(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full, base) : [path.relative(base, full)];
  });
}

/** Whether a file holds key material: a PEM private key, a private JWK, or the HMAC key file. */
function holdsKey(file: string): boolean {
  const text = readFileSync(file, "utf8");
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) return true;
  if (file.endsWith(".key")) return true;
  try {
    const json = JSON.parse(text) as unknown;
    return typeof json === "object" && json !== null && "d" in json;
  } catch {
    return false;
  }
}

describe("the keys a start writes are ignored by git", () => {
  let repo: string;
  let written: string[];

  beforeAll(async () => {
    repo = mkdtempSync(path.join(tmpdir(), "start-secrets-"));
    execFileSync("git", ["init", "-q", repo]);
    copyFileSync(path.join(REPO, ".gitignore"), path.join(repo, ".gitignore"));
    await prepareStartSecrets(path.join(repo, "data"), {
      authDev: true,
      tls: true,
      signingKeyEnv: undefined,
    });
    written = filesUnder(path.join(repo, "data")).map((f) => path.join("data", f));
  });

  afterAll(() => {
    rmSync(repo, { recursive: true, force: true });
  });

  it("writes the keys it is expected to (so the check below is not vacuous)", () => {
    const keys = written.filter((f) => holdsKey(path.join(repo, f)));
    expect(keys).toEqual(
      expect.arrayContaining([
        path.join("data", "feedback-signing.key"),
        path.join("data", "dev-auth", "signing-key.jwk.json"),
        path.join("data", "tls", "client-key.pem"),
        path.join("data", "tls", "gateway-key.pem"),
      ]),
    );
  });

  it("git check-ignore names a rule for every file that holds a key", () => {
    const notIgnored = written
      .filter((f) => holdsKey(path.join(repo, f)))
      .filter((f) => spawnSync("git", ["check-ignore", "-q", f], { cwd: repo }).status !== 0);
    expect(notIgnored).toEqual([]);
  });

  it("git add -A would stage nothing the start wrote", () => {
    const status = execFileSync("git", ["status", "--porcelain", "--untracked-files=all"], {
      cwd: repo,
      encoding: "utf8",
    });
    expect(status.split("\n").filter((line) => line.includes("data/"))).toEqual([]);
  });
});
