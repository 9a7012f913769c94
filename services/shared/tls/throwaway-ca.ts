import "reflect-metadata"; // @peculiar/x509's dependency injection needs the Reflect polyfill.
import * as x509 from "@peculiar/x509";
import { randomBytes, webcrypto } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * A throwaway certificate authority for `npm start -- --tls` and the tests: node:crypto can
 * make keys but not X.509 certificates, so @peculiar/x509 builds them (ECDSA P-256, SHA-256)
 * on node's WebCrypto. Never for production: the CA key lives in memory and the files sit in
 * the data folder; in a cluster cert-manager issues the certificates (k8s-manifests/README.md).
 */

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 86_400_000;

/** A certificate and its private key, PEM. */
export interface PemPair {
  readonly cert: string;
  readonly key: string;
}

export interface IssueOptions {
  readonly commonName: string;
  /** Subject alternative names; clients check the host they dialled against these. */
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

/** The CA: its certificate (PEM) and a way to issue server-and-client certificates. */
export interface ThrowawayCa {
  readonly cert: string;
  issue(options: IssueOptions): Promise<PemPair>;
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive, as RFC 5280 requires
  return bytes.toString("hex");
}

async function keyPair(): Promise<CryptoKeyPair> {
  return await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(pkcs8, "PRIVATE KEY");
}

/** A new CA, valid from a minute ago for `validityDays`. */
export async function createThrowawayCa(
  commonName = "liver-mesh throwaway CA",
  validityDays = 30,
): Promise<ThrowawayCa> {
  const keys = await keyPair();
  const now = Date.now();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${commonName}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + validityDays * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    cert: ca.toString("pem"),
    async issue(options: IssueOptions): Promise<PemPair> {
      const leafKeys = await keyPair();
      const names = [
        ...(options.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
        ...(options.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
      ];
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: serialNumber(),
        subject: `CN=${options.commonName}`,
        issuer: ca.subject,
        notBefore: options.notBefore ?? new Date(Date.now() - 60_000),
        notAfter: options.notAfter ?? new Date(Date.now() + validityDays * DAY_MS),
        signingKey: keys.privateKey,
        publicKey: leafKeys.publicKey,
        signingAlgorithm: ALGORITHM,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([
            x509.ExtendedKeyUsage.serverAuth,
            x509.ExtendedKeyUsage.clientAuth,
          ]),
          new x509.SubjectAlternativeNameExtension(names),
          await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey),
        ],
      });
      return { cert: leaf.toString("pem"), key: await privateKeyPem(leafKeys.privateKey) };
    },
  };
}

/** Files of one identity written by writeThrowawayPki. */
export interface IdentityFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** Where writeThrowawayPki put the CA and each identity. */
export interface PkiFiles {
  readonly caFile: string;
  readonly identities: ReadonlyMap<string, IdentityFiles>;
}

/**
 * A new CA and one certificate per name (each valid for localhost, 127.0.0.1 and ::1, as
 * server and as client), written under `dir` as ca.pem, NAME.pem and NAME-key.pem (0600).
 */
export async function writeThrowawayPki(dir: string, names: readonly string[]): Promise<PkiFiles> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = await createThrowawayCa();
  const caFile = path.join(dir, "ca.pem");
  writeFileSync(caFile, ca.cert);
  const identities = new Map<string, IdentityFiles>();
  for (const name of names) {
    const pair = await ca.issue({
      commonName: name,
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1", "::1"],
    });
    const certFile = path.join(dir, `${name}.pem`);
    const keyFile = path.join(dir, `${name}-key.pem`);
    writeFileSync(certFile, pair.cert);
    writeFileSync(keyFile, pair.key, { mode: 0o600 });
    identities.set(name, { certFile, keyFile });
  }
  return { caFile, identities };
}
