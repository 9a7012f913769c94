import { createHash, X509Certificate } from "node:crypto";

/**
 * The Chromium flag that makes a browser test accept exactly one certificate: the one whose
 * public key (SPKI) hashes to the pinned value, and no other that its own roots do not
 * trust. Tests' throwaway CAs are not in Chromium's roots; pinning the server's key instead
 * of turning certificate checks off means a wrong or substituted certificate still fails the
 * page load (gateway/web/browser-certificate-pin.test.ts shows both).
 */
export function chromiumCertificatePin(certPem: string | Buffer): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: "spki", format: "der" });
  return `--ignore-certificate-errors-spki-list=${createHash("sha256").update(spki).digest("base64")}`;
}
