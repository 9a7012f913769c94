/**
 * The browser tests load the page over HTTPS from servers whose throwaway CA Chromium does
 * not know; they pin the server's certificate (chromiumCertificatePin) instead of switching
 * certificate checks off. This shows the pin is a check: the pinned certificate loads, and a
 * certificate for the same name from another CA, as an interceptor would present, does not.
 */
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchHeadlessChromium, skipWithoutChromium } from "./testing/headless-chromium.js";
import { chromiumCertificatePin } from "../../services/shared/testing/chromium-certificate-pin.js";
import { createThrowawayCa, type PemPair } from "../../services/shared/tls/throwaway-ca.js";

const SKIP = skipWithoutChromium("gateway/web/browser-certificate-pin.test.ts");

const NAMES = { commonName: "localhost", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] };

function serve(pair: PemPair, body: string): Promise<https.Server> {
  return new Promise((resolve) => {
    const server = https.createServer({ cert: pair.cert, key: pair.key }, (_request, response) =>
      response.end(body),
    );
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

const urlOf = (server: https.Server): string =>
  `https://localhost:${(server.address() as AddressInfo).port}/`;

describe.skipIf(SKIP)("a pinned certificate in headless Chromium", () => {
  let browser: Browser;
  let pinned: https.Server;
  let impostor: https.Server;

  beforeAll(async () => {
    const ours = await (await createThrowawayCa("pinned CA")).issue(NAMES);
    const theirs = await (await createThrowawayCa("impostor CA")).issue(NAMES);
    pinned = await serve(ours, "pinned");
    impostor = await serve(theirs, "impostor");
    browser = await launchHeadlessChromium([chromiumCertificatePin(ours.cert)]);
  }, 60_000);

  afterAll(async () => {
    await browser.close();
    pinned.close();
    impostor.close();
  });

  it("loads a page served with the pinned certificate", async () => {
    const page = await browser.newPage();
    const response = await page.goto(urlOf(pinned));
    expect(response?.status()).toBe(200);
    expect(await page.textContent("body")).toBe("pinned");
    await page.close();
  });

  it("refuses another CA's certificate for the same name", async () => {
    const page = await browser.newPage();
    await expect(page.goto(urlOf(impostor))).rejects.toThrow(/ERR_CERT_AUTHORITY_INVALID/);
    await page.close();
  });
});
