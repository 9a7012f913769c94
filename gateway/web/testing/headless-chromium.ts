/**
 * Debian's Chromium for the browser tests, launched the one way they all need: headless,
 * never a downloaded browser, no background traffic. Outside CI a missing Chromium (or, for
 * HTTPS tests, a missing certutil) skips the browser tests with a warning; in CI (CI set
 * and not "false") it is an error.
 *
 * HTTPS tests trust their throwaway CA the way a user's browser trusts a private CA: it is
 * added to the NSS database in a HOME of the browser's own, so Chromium checks the whole
 * chain, the name and the dates. (The SPKI "ignore errors" flag is no check: it accepts any
 * chain that merely contains the pinned key.)
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
const IN_CI = (process.env["CI"] ?? "") !== "" && process.env["CI"] !== "false";

/** Whether NSS's certutil (Debian's libnss3-tools) is on PATH. */
function haveCertutil(): boolean {
  try {
    execFileSync("certutil", ["-H"], { stdio: "ignore" });
    return true;
  } catch (error) {
    // certutil -H prints its help and exits 1; only a missing binary is ENOENT.
    return (error as NodeJS.ErrnoException).code !== "ENOENT";
  }
}

/**
 * Whether a browser test file must skip: no Chromium here (or, when `https`, no certutil)
 * and not in CI. Warns once per file.
 */
export function skipWithoutChromium(file: string, https = false): boolean {
  if (IN_CI) return false;
  if (!HAVE_CHROMIUM) {
    console.warn(`${file} skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);
    return true;
  }
  if (https && !haveCertutil()) {
    console.warn(`${file} skipped: certutil is missing (apt-get install -y libnss3-tools)`);
    return true;
  }
  return false;
}

export interface HeadlessChromiumOptions {
  /** A CA (PEM) the browser trusts for HTTPS, as an operator's private CA would be. */
  readonly trustedCa?: string | Buffer | undefined;
}

/**
 * A HOME whose NSS database trusts `caPem` to issue server certificates; Chromium on Linux
 * reads user trust from $HOME/.pki/nssdb.
 */
function homeTrusting(caPem: string | Buffer): string {
  const home = mkdtempSync(path.join(tmpdir(), "chromium-home-"));
  const db = `sql:${path.join(home, ".pki", "nssdb")}`;
  mkdirSync(path.join(home, ".pki", "nssdb"), { recursive: true });
  const caFile = path.join(home, "trusted-ca.pem");
  writeFileSync(caFile, caPem);
  try {
    execFileSync("certutil", ["-d", db, "-N", "--empty-password"], { stdio: "pipe" });
    execFileSync("certutil", ["-d", db, "-A", "-t", "C,,", "-n", "test CA", "-i", caFile], { stdio: "pipe" });
  } catch (error) {
    rmSync(home, { recursive: true, force: true });
    throw new Error(
      `cannot make Chromium trust the test CA with certutil (apt-get install -y libnss3-tools): ${String(error)}`,
      { cause: error },
    );
  }
  return home;
}

/** Launches headless Chromium with the flags every browser test uses. */
export async function launchHeadlessChromium(options: HeadlessChromiumOptions = {}): Promise<Browser> {
  if (!HAVE_CHROMIUM) {
    throw new Error(`CI is set but ${CHROMIUM} is missing: .ci/run must apt-get install chromium`);
  }
  const home = options.trustedCa === undefined ? undefined : homeTrusting(options.trustedCa);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    ...(home === undefined ? {} : { env: { ...process.env, HOME: home } }),
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-quic",
      "--no-first-run",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  if (home !== undefined) browser.on("disconnected", () => rmSync(home, { recursive: true, force: true }));
  return browser;
}
