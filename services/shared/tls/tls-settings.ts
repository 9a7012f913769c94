import { type Env, readInteger, readOptionalString } from "../ops/env-config.js";

/**
 * The TLS settings every process reads (binding names: README.md, Configuration). Files are PEM; they are
 * re-read every `refreshIntervalMs` so a renewed certificate (cert-manager rewrites the mounted
 * Secret in place) reaches new connections without a restart.
 */
export interface TlsSettings {
  /** TLS_CERT_FILE: this service's certificate (chain); also its client certificate. */
  readonly certFile: string | undefined;
  /** TLS_KEY_FILE: the private key of certFile. */
  readonly keyFile: string | undefined;
  /** TLS_CLIENT_CA_FILE: when set, clients must present a certificate this CA signed (mTLS). */
  readonly clientCaFile: string | undefined;
  /** TLS_CA_FILE: the CA trusted for outgoing calls; when set, outgoing calls use TLS. */
  readonly caFile: string | undefined;
  /** TLS_REFRESH_MS: how often the files are re-read. */
  readonly refreshIntervalMs: number;
}

/** Default re-read interval: a renewed certificate is in use for new connections within 30 s. */
export const DEFAULT_TLS_REFRESH_MS = 30_000;

/** No TLS anywhere: the plaintext default. */
export const PLAINTEXT: TlsSettings = {
  certFile: undefined,
  keyFile: undefined,
  clientCaFile: undefined,
  caFile: undefined,
  refreshIntervalMs: DEFAULT_TLS_REFRESH_MS,
};

/** Help lines for the TLS settings, shared by every process's --help. */
export const TLS_HELP = `  TLS_CERT_FILE        this service's certificate, PEM (unset: plaintext). With TLS_KEY_FILE,
                       the gRPC server accepts TLS only; the pair is also the client certificate
  TLS_KEY_FILE         the private key of TLS_CERT_FILE, PEM
  TLS_CLIENT_CA_FILE   clients must present a certificate signed by this CA (mTLS; needs the two above)
  TLS_CA_FILE          the CA trusted for outgoing calls; set, outgoing calls use TLS
  TLS_REFRESH_MS       how often the files are re-read for rotation (default ${DEFAULT_TLS_REFRESH_MS})
  HEALTH_PORT          also serve grpc.health.v1 alone, in plaintext, on this port (unset: no):
                       Kubernetes' gRPC probes cannot speak TLS`;

/** Reads and cross-checks the TLS settings; a half-configured pair fails at start, by name. */
export function readTlsSettings(env: Env): TlsSettings {
  const certFile = readOptionalString(env, "TLS_CERT_FILE");
  const keyFile = readOptionalString(env, "TLS_KEY_FILE");
  const clientCaFile = readOptionalString(env, "TLS_CLIENT_CA_FILE");
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new Error(
      certFile === undefined
        ? "TLS_KEY_FILE is set but TLS_CERT_FILE is not: set both (the certificate and its key) or neither"
        : "TLS_CERT_FILE is set but TLS_KEY_FILE is not: set both (the certificate and its key) or neither",
    );
  }
  if (clientCaFile !== undefined && certFile === undefined) {
    throw new Error(
      "TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE: client certificates are checked over TLS",
    );
  }
  return {
    certFile,
    keyFile,
    clientCaFile,
    caFile: readOptionalString(env, "TLS_CA_FILE"),
    refreshIntervalMs: readInteger(env, "TLS_REFRESH_MS", DEFAULT_TLS_REFRESH_MS, 100, 3_600_000),
  };
}
