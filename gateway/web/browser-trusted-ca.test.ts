/**
 * The HTTPS browser tests make Chromium trust their throwaway CA (launchHeadlessChromium's
 * trustedCa) instead of switching certificate checks off. This shows that trust is a real
 * check: a certificate the CA issued for the name loads; another CA's certificate is
 * refused, also when it carries ours in its chain (which fooled the SPKI "ignore errors"
 * flag used before); and our CA's certificate for another name is refused.
 */
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchHeadlessChromium, skipWithoutChromium } from "./testing/headless-chromium.js";
import { createThrowawayCa, type PemPair } from "../../services/shared/tls/throwaway-ca.js";

const SKIP = skipWithoutChromium("gateway/web/browser-trusted-ca.test.ts", true);

const LOCALHOST = { commonName: "localhost", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] };

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

describe.skipIf(SKIP)("a trusted test CA in headless Chromium", () => {
  const servers: https.Server[] = [];
  let browser: Browser;
  let ours: https.Server;
  let impostor: https.Server;
  let impostorCarryingOurs: https.Server;
  let otherName: https.Server;

  beforeAll(async () => {
    const ca = await createThrowawayCa("trusted test CA");
    const theirs = await (await createThrowawayCa("impostor CA")).issue(LOCALHOST);
    const ourLeaf = await ca.issue(LOCALHOST);
    ours = await serve(ourLeaf, "ours");
    impostor = await serve(theirs, "impostor");
    // The impostor's own key, with our public certificate appended as if an intermediate.
    impostorCarryingOurs = await serve({ cert: `${theirs.cert}\n${ourLeaf.cert}`, key: theirs.key }, "chain");
    otherName = await serve(
      await ca.issue({ commonName: "other.example", dnsNames: ["other.example"] }),
      "other",
    );
    servers.push(ours, impostor, impostorCarryingOurs, otherName);
    browser = await launchHeadlessChromium({ trustedCa: ca.cert });
  });

  afterAll(async () => {
    await browser.close();
    for (const server of servers) server.close();
  });

  const load = async (server: https.Server): Promise<string> => {
    const page = await browser.newPage();
    try {
      const response = await page.goto(urlOf(server));
      return `${response?.status() ?? "?"} ${(await page.textContent("body")) ?? ""}`;
    } catch (error) {
      return String(error).split("\n")[0] ?? "";
    } finally {
      await page.close();
    }
  };

  it("loads a page served with a certificate the trusted CA issued for the name", async () => {
    expect(await load(ours)).toBe("200 ours");
  });

  it("refuses another CA's certificate for the same name", async () => {
    expect(await load(impostor)).toMatch(/ERR_CERT_AUTHORITY_INVALID/);
  });

  it("refuses another CA's certificate even with ours appended to its chain", async () => {
    expect(await load(impostorCarryingOurs)).toMatch(/ERR_CERT_AUTHORITY_INVALID/);
  });

  it("refuses the trusted CA's certificate for another name", async () => {
    expect(await load(otherName)).toMatch(/ERR_CERT_COMMON_NAME_INVALID/);
  });
});
