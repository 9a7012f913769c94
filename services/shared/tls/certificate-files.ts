import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";

/** A file named by a setting, so every error says which setting to fix. */
export interface SettingFile {
  readonly setting: string;
  readonly path: string;
}

/** A certificate and its key, checked to belong together and to be valid now. */
export interface CheckedIdentity {
  readonly certificate: Buffer;
  readonly privateKey: Buffer;
  /** The leaf certificate, for logs (subject, expiry). */
  readonly leaf: X509Certificate;
}

function describeFile(file: SettingFile): string {
  return `${file.setting}=${file.path}`;
}

/** Reads a PEM file; a missing or unreadable one fails with the setting and the OS reason. */
export function readSettingFile(file: SettingFile): Buffer {
  try {
    return readFileSync(file.path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`${describeFile(file)} cannot be read (${reason}); check the path and its permissions`, {
      cause: error,
    });
  }
}

/** Every certificate of a PEM bundle; none, or an unparsable one, is an error naming the file. */
export function parseCertificates(pem: Buffer, file: SettingFile): X509Certificate[] {
  const blocks =
    pem.toString("utf8").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0)
    throw new Error(`${describeFile(file)} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`${describeFile(file)}: certificate ${i + 1} cannot be parsed (${reason})`, {
        cause: error,
      });
    }
  });
}

/** Throws when `certificate` is not valid at `now`, saying when it was or will be. */
export function checkValidity(certificate: X509Certificate, file: SettingFile, now: Date): void {
  const notAfter = new Date(certificate.validTo);
  const notBefore = new Date(certificate.validFrom);
  if (now > notAfter) {
    throw new Error(
      `${describeFile(file)}: the certificate for ${certificate.subject.replace(/\n/g, ", ")} expired on ${notAfter.toISOString()}; renew it`,
    );
  }
  if (now < notBefore) {
    throw new Error(
      `${describeFile(file)}: the certificate for ${certificate.subject.replace(/\n/g, ", ")} is not valid before ${notBefore.toISOString()}; check the clock`,
    );
  }
}

/** Reads a certificate and its key and checks they match and the certificate is valid now. */
export function readIdentity(cert: SettingFile, key: SettingFile, now = new Date()): CheckedIdentity {
  const certificate = readSettingFile(cert);
  const privateKey = readSettingFile(key);
  return checkIdentity(certificate, privateKey, cert, key, now);
}

/** As readIdentity, for contents already read (the file watcher re-reads them). */
export function checkIdentity(
  certificate: Buffer,
  privateKey: Buffer,
  cert: SettingFile,
  key: SettingFile,
  now = new Date(),
): CheckedIdentity {
  const [leaf] = parseCertificates(certificate, cert);
  if (leaf === undefined) throw new Error(`${describeFile(cert)} holds no certificate`);
  let parsedKey;
  try {
    parsedKey = createPrivateKey(privateKey);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`${describeFile(key)} holds no usable PEM private key (${reason})`, { cause: error });
  }
  if (!leaf.checkPrivateKey(parsedKey)) {
    throw new Error(
      `${describeFile(key)} is not the key of the certificate in ${describeFile(cert)} (${leaf.subject.replace(/\n/g, ", ")}); use the key that was issued with it`,
    );
  }
  checkValidity(leaf, cert, now);
  return { certificate, privateKey, leaf };
}

/** Reads a CA bundle and checks it holds at least one certificate that is valid now. */
export function readCaBundle(file: SettingFile, now = new Date()): Buffer {
  const pem = readSettingFile(file);
  checkCaBundle(pem, file, now);
  return pem;
}

/** As readCaBundle, for contents already read. */
export function checkCaBundle(pem: Buffer, file: SettingFile, now = new Date()): void {
  const certificates = parseCertificates(pem, file);
  const valid = certificates.filter((c) => new Date(c.validTo) >= now && new Date(c.validFrom) <= now);
  const first = certificates[0];
  if (valid.length === 0 && first !== undefined) checkValidity(first, file, now);
}
