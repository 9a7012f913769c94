import { ChannelCredentials, credentials, experimental, ServerCredentials } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { CheckedCertificateProvider } from "./checked-certificate-provider.js";
import type { TlsSettings } from "./tls-settings.js";

function reporters(logger: Logger): {
  onRejected: (error: Error) => void;
  onRotated: (what: string, leaf: { subject: string; validTo: string } | undefined) => void;
} {
  return {
    onRejected: (error) => logger.error({ err: error }, `TLS files not reloaded: ${error.message}`),
    onRotated: (what, leaf) =>
      logger.info(
        { what, subject: leaf?.subject, validTo: leaf?.validTo },
        `TLS ${what} reloaded; new connections use it`,
      ),
  };
}

/**
 * This process's certificate and key (TLS_CERT_FILE, TLS_KEY_FILE) as a checked provider, kept
 * current while anyone listens; the server identity and the client certificate. Undefined when unset.
 */
export function identityProvider(
  settings: TlsSettings,
  logger: Logger,
): CheckedCertificateProvider | undefined {
  if (settings.certFile === undefined || settings.keyFile === undefined) return undefined;
  return new CheckedCertificateProvider({
    cert: { setting: "TLS_CERT_FILE", path: settings.certFile },
    key: { setting: "TLS_KEY_FILE", path: settings.keyFile },
    refreshIntervalMs: settings.refreshIntervalMs,
    ...reporters(logger),
  });
}

/** A CA bundle setting as a checked provider, kept current while anyone listens; undefined when unset. */
export function caProvider(
  setting: "TLS_CA_FILE" | "TLS_CLIENT_CA_FILE",
  settings: TlsSettings,
  logger: Logger,
): CheckedCertificateProvider | undefined {
  const file = setting === "TLS_CA_FILE" ? settings.caFile : settings.clientCaFile;
  if (file === undefined) return undefined;
  return new CheckedCertificateProvider({
    ca: { setting, path: file },
    refreshIntervalMs: settings.refreshIntervalMs,
    ...reporters(logger),
  });
}

/**
 * Credentials of a gRPC server: plaintext without TLS_CERT_FILE; TLS only with it; and with
 * TLS_CLIENT_CA_FILE, clients must present a certificate that CA signed. Files are checked
 * now (errors name the setting) and re-read every refreshIntervalMs.
 */
export function grpcServerCredentials(settings: TlsSettings, logger: Logger): ServerCredentials {
  const identity = identityProvider(settings, logger);
  if (identity === undefined) return ServerCredentials.createInsecure();
  const clientCa = caProvider("TLS_CLIENT_CA_FILE", settings, logger) ?? null;
  // grpc-js 1.14 declares the parameters as (ca, identity, ...) but its implementation, and
  // grpc-js-xds calling it, take (identity, ca, ...); this passes them the way they are used.
  return experimental.createCertificateProviderServerCredentials(identity, clientCa, clientCa !== null);
}

/**
 * Credentials for outgoing calls: plaintext without TLS_CA_FILE; with it, TLS verifying the
 * server against that CA and presenting this service's own certificate (when it has one) as
 * the client certificate.
 */
export function grpcChannelCredentials(settings: TlsSettings, logger: Logger): ChannelCredentials {
  const ca = caProvider("TLS_CA_FILE", settings, logger);
  if (ca === undefined) return credentials.createInsecure();
  return experimental.createCertificateProviderChannelCredentials(
    ca,
    identityProvider(settings, logger) ?? null,
  );
}
