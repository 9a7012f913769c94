import type { SecureContextOptions } from "node:tls";
import type { Logger } from "pino";
import { CheckedCertificateProvider } from "../../services/shared/tls/checked-certificate-provider.js";
import type { TlsSettings } from "../../services/shared/tls/tls-settings.js";

/** The TLS material of one new connection, as node:tls and node:http2 take it. */
export type TlsMaterial = Pick<SecureContextOptions, "ca" | "cert" | "key">;

/**
 * The bridge's certificates, kept current: TLS_CERT_FILE/TLS_KEY_FILE are both the HTTPS
 * listener's certificate (for browsers) and the client certificate towards Predict and
 * Retrain; TLS_CA_FILE is the CA it trusts for those upstream calls. Files are checked at start
 * and re-read every refreshIntervalMs through the same checked grpc-js providers the services
 * use; `onServerRotation` hands a new certificate to the listener (new handshakes only).
 * TLS_CLIENT_CA_FILE does not apply: browsers do not carry client certificates.
 */
export class BridgeTls {
  private identity: { cert: Buffer; key: Buffer } | undefined;
  private ca: Buffer | undefined;
  private readonly identityProvider: CheckedCertificateProvider | undefined;
  private readonly caProvider: CheckedCertificateProvider | undefined;
  private readonly rotationListeners: ((material: TlsMaterial) => void)[] = [];

  constructor(settings: TlsSettings, logger: Logger) {
    const onRejected = (error: Error): void =>
      logger.error({ err: error }, `TLS files not reloaded: ${error.message}`);
    if (settings.certFile !== undefined && settings.keyFile !== undefined) {
      this.identityProvider = new CheckedCertificateProvider({
        cert: { setting: "TLS_CERT_FILE", path: settings.certFile },
        key: { setting: "TLS_KEY_FILE", path: settings.keyFile },
        refreshIntervalMs: settings.refreshIntervalMs,
        onRejected,
        onRotated: (_what, leaf) => logger.info({ subject: leaf?.subject }, "TLS certificate reloaded"),
      });
      const current = this.identityProvider.currentIdentity();
      if (current !== undefined) this.identity = { cert: current.certificate, key: current.privateKey };
      this.identityProvider.addIdentityCertificateListener(this.onIdentity);
    }
    if (settings.caFile !== undefined) {
      this.caProvider = new CheckedCertificateProvider({
        ca: { setting: "TLS_CA_FILE", path: settings.caFile },
        refreshIntervalMs: settings.refreshIntervalMs,
        onRejected,
      });
      this.ca = this.caProvider.currentCa()?.caCertificate;
      this.caProvider.addCaCertificateListener(this.onCa);
    }
  }

  /** True when the listener serves HTTPS (TLS_CERT_FILE and TLS_KEY_FILE set). */
  get serverEnabled(): boolean {
    return this.identityProvider !== undefined;
  }

  /** True when calls to Predict and Retrain use TLS (TLS_CA_FILE set). */
  get upstreamEnabled(): boolean {
    return this.caProvider !== undefined;
  }

  /** The listener's certificate now. */
  serverMaterial(): TlsMaterial {
    return { cert: this.identity?.cert, key: this.identity?.key };
  }

  /** What a new upstream connection uses now: the CA, and this bridge's certificate as client certificate. */
  upstreamMaterial(): TlsMaterial {
    return { ca: this.ca, cert: this.identity?.cert, key: this.identity?.key };
  }

  /** Calls `listener` with the new listener certificate after each accepted rotation. */
  onServerRotation(listener: (material: TlsMaterial) => void): void {
    this.rotationListeners.push(listener);
  }

  /** Stops re-reading the files (their timer would keep the process alive). */
  close(): void {
    this.identityProvider?.removeIdentityCertificateListener(this.onIdentity);
    this.caProvider?.removeCaCertificateListener(this.onCa);
  }

  private readonly onIdentity = (update: { certificate: Buffer; privateKey: Buffer } | null): void => {
    if (update === null) return;
    const before = this.identity;
    if (before?.cert.equals(update.certificate) === true && before.key.equals(update.privateKey)) return;
    this.identity = { cert: update.certificate, key: update.privateKey };
    for (const listener of this.rotationListeners) listener(this.serverMaterial());
  };

  private readonly onCa = (update: { caCertificate: Buffer } | null): void => {
    if (update !== null) this.ca = update.caCertificate;
  };
}
