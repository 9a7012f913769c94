import type { SecureContextOptions } from "node:tls";
import type { Logger } from "pino";
import type { CheckedCertificateProvider } from "../../services/shared/tls/checked-certificate-provider.js";
import { caProvider, identityProvider } from "../../services/shared/tls/grpc-tls-credentials.js";
import type { TlsSettings } from "../../services/shared/tls/tls-settings.js";

/** The TLS material of one new connection, as node:tls and node:http2 take it. */
export type TlsMaterial = Pick<SecureContextOptions, "ca" | "cert" | "key">;

/**
 * The bridge's certificates, kept current: TLS_CERT_FILE/TLS_KEY_FILE are both the HTTPS
 * listener's certificate (for browsers) and the client certificate towards Predict and
 * Retrain; TLS_CA_FILE is the CA it trusts for those upstream calls. Files are checked at start
 * and re-read every refreshIntervalMs through the same checked providers the services' gRPC
 * credentials use; `onServerRotation` hands a new certificate to the listener (new handshakes
 * only). TLS_CLIENT_CA_FILE does not apply: browsers do not carry client certificates.
 */
export class BridgeTls {
  private readonly identity: CheckedCertificateProvider | undefined;
  private readonly ca: CheckedCertificateProvider | undefined;
  private readonly rotationListeners: ((material: TlsMaterial) => void)[] = [];

  constructor(settings: TlsSettings, logger: Logger) {
    this.identity = identityProvider(settings, logger);
    this.ca = caProvider("TLS_CA_FILE", settings, logger);
    // A provider re-reads its files only while someone listens.
    this.identity?.addIdentityCertificateListener(this.onIdentity);
    this.ca?.addCaCertificateListener(this.onCa);
  }

  /** True when the listener serves HTTPS (TLS_CERT_FILE and TLS_KEY_FILE set). */
  get serverEnabled(): boolean {
    return this.identity !== undefined;
  }

  /** True when calls to Predict and Retrain use TLS (TLS_CA_FILE set). */
  get upstreamEnabled(): boolean {
    return this.ca !== undefined;
  }

  /** The listener's certificate now. */
  serverMaterial(): TlsMaterial {
    const current = this.identity?.currentIdentity();
    return { cert: current?.certificate, key: current?.privateKey };
  }

  /** What a new upstream connection uses now: the CA, and this bridge's certificate as client certificate. */
  upstreamMaterial(): TlsMaterial {
    return { ca: this.ca?.currentCa()?.caCertificate, ...this.serverMaterial() };
  }

  /** Calls `listener` with the listener certificate after each accepted rotation (first, maybe the one in use). */
  onServerRotation(listener: (material: TlsMaterial) => void): void {
    this.rotationListeners.push(listener);
  }

  /** Stops re-reading the files (their timer would keep the process alive). */
  close(): void {
    this.identity?.removeIdentityCertificateListener(this.onIdentity);
    this.ca?.removeCaCertificateListener(this.onCa);
  }

  private readonly onIdentity = (): void => {
    for (const listener of this.rotationListeners) listener(this.serverMaterial());
  };

  private readonly onCa = (): void => undefined;
}
