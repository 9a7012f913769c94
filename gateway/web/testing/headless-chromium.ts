/**
 * Debian's Chromium for the browser tests, launched the one way they all need: headless,
 * never a downloaded browser, no background traffic. Outside CI a missing Chromium skips
 * the browser tests with a warning; in CI (CI set and not "false") it is an error.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
const IN_CI = (process.env["CI"] ?? "") !== "" && process.env["CI"] !== "false";

/** Whether a browser test file must skip: no Chromium here and not in CI. Warns once per file. */
export function skipWithoutChromium(file: string): boolean {
  if (HAVE_CHROMIUM || IN_CI) return false;
  console.warn(`${file} skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);
  return true;
}

/** Launches headless Chromium with the flags every browser test uses, plus `extraArgs`. */
export async function launchHeadlessChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  if (!HAVE_CHROMIUM)
    throw new Error(`CI is set but ${CHROMIUM} is missing: .ci/run must apt-get install chromium`);
  return await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-quic",
      "--no-first-run",
      "--disable-component-update",
      "--disable-sync",
      ...extraArgs,
    ],
  });
}
