import path from "node:path";
import { writeThrowawayPki } from "../../services/shared/tls/throwaway-ca.js";
import { PLAINTEXT, type TlsSettings } from "../../services/shared/tls/tls-settings.js";

/** The TLS_* environment of each process of `npm start -- --tls`, and how a client connects. */
export interface ThrowawayTls {
  readonly retrain: Readonly<Record<string, string>>;
  readonly predict: Readonly<Record<string, string>>;
  readonly gateway: Readonly<Record<string, string>>;
  /** A client identity (for the start script's health checks and for grpcurl). */
  readonly client: TlsSettings;
  /** grpcurl flags: -cacert, -cert, -key. */
  readonly grpcurlFlags: string;
}

/**
 * Makes a throwaway CA and one certificate per process under `dir` (the data folder's tls/),
 * and the settings that run everything on TLS with client certificates between services:
 * Retrain and Predict require a certificate from the CA (mTLS), Predict and the gateway call
 * out with theirs, and the gateway serves the page over HTTPS (browsers present none).
 */
export async function makeThrowawayTls(dir: string): Promise<ThrowawayTls> {
  const pki = await writeThrowawayPki(dir, ["retrain", "predict", "gateway", "client"]);
  const identity = (name: string): { TLS_CERT_FILE: string; TLS_KEY_FILE: string } => {
    const files = pki.identities.get(name);
    if (files === undefined) throw new Error(`no certificate was made for ${name}`);
    return { TLS_CERT_FILE: files.certFile, TLS_KEY_FILE: files.keyFile };
  };
  const client = identity("client");
  return {
    retrain: { ...identity("retrain"), TLS_CLIENT_CA_FILE: pki.caFile },
    predict: { ...identity("predict"), TLS_CLIENT_CA_FILE: pki.caFile, TLS_CA_FILE: pki.caFile },
    gateway: { ...identity("gateway"), TLS_CA_FILE: pki.caFile },
    client: {
      ...PLAINTEXT,
      certFile: client.TLS_CERT_FILE,
      keyFile: client.TLS_KEY_FILE,
      caFile: pki.caFile,
    },
    grpcurlFlags: `-cacert ${quote(pki.caFile)} -cert ${quote(client.TLS_CERT_FILE)} -key ${quote(client.TLS_KEY_FILE)}`,
  };
}

function quote(file: string): string {
  return /^[\w./-]+$/.test(file) ? file : `'${file.replace(/'/g, "'\\''")}'`;
}

/** Where `npm start -- --tls` keeps the throwaway certificates. */
export function throwawayTlsDir(dataPath: string): string {
  return path.join(dataPath, "tls");
}
