import { type AuthConfig, readAuthConfig } from "../../services/shared/auth/auth-config.js";
import { fileURLToPath } from "node:url";
import { readPort, readString, readOptionalString, type Env } from "../../services/shared/ops/env-config.js";
import { readTlsSettings, type TlsSettings } from "../../services/shared/tls/tls-settings.js";

/**
 * Default ports (docs/architecture.md, Configuration). The Envoy config check compares envoy.yaml
 * against these, so the production gateway and the local bridge agree on them.
 */
export const GATEWAY_DEFAULTS = Object.freeze({
  gatewayPort: 5000,
  predictPort: 8000,
  retrainPort: 8080,
});

/** Where `npm run build` of the web UI puts its files; served when WEB_ROOT is unset. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL("../web/dist/", import.meta.url));

/** Everything the bridge's entry point reads from the environment, validated. */
export interface BridgeConfig {
  readonly port: number;
  readonly host: string;
  readonly predictAddresses: readonly string[];
  readonly retrainAddress: string;
  readonly corsOrigins: readonly string[];
  readonly webRoot: string;
  /** Verifies the session cookie for /auth/whoami (AUTH_* as the services read them). */
  readonly auth?: AuthConfig | undefined;
  /** TLS_CERT_FILE/TLS_KEY_FILE: HTTPS listener and client certificate; TLS_CA_FILE: TLS to the services. */
  readonly tls?: TlsSettings;
}

/** Help text for `--help`, listing every variable `readBridgeConfig` reads. */
export const BRIDGE_ENV_HELP = `Usage: node --import tsx gateway/bridge/main.ts   (compiled: node dist/gateway/bridge/main.js)

Local grpc-web bridge: serves the web UI and forwards the public gRPC methods.

Environment:
  GATEWAY_PORT    HTTP port for the UI and grpc-web (default ${GATEWAY_DEFAULTS.gatewayPort})
  GATEWAY_HOST    interface to bind (default 127.0.0.1; 0.0.0.0 for all). On a loopback address
                  the bridge answers only requests addressed to localhost, 127.0.0.1 or [::1]
                  (HTTP 421 otherwise: a DNS-rebinding page gets nothing)
  PREDICT_ADDRS   comma-separated host:port list of PredictService replicas, balanced per call
                  (default localhost:$PREDICT_PORT, PREDICT_PORT default ${GATEWAY_DEFAULTS.predictPort})
  RETRAIN_ADDR    host:port of the RetrainService (default localhost:$RETRAIN_PORT,
                  RETRAIN_PORT default ${GATEWAY_DEFAULTS.retrainPort})
  CORS_ORIGINS    comma-separated origins allowed to call cross-origin, e.g. http://localhost:5173
                  (default none: only the UI served by this bridge, which is same-origin)
  WEB_ROOT        folder of the built web UI (default gateway/web/dist)
  AUTH_ISSUER, AUTH_AUDIENCE, AUTH_JWKS_URL | AUTH_JWKS_FILE
                  as for the services: verify the BearerToken cookie for /auth/whoami (the
                  cookie is forwarded as 'authorization: Bearer' either way; /signout clears it)
  TLS_CERT_FILE, TLS_KEY_FILE   serve the UI and grpc-web over HTTPS with this certificate, which is
                  also the client certificate towards Predict and Retrain (unset: plain HTTP)
  TLS_CA_FILE     CA trusted for calls to Predict and Retrain; set, those calls use TLS
  TLS_REFRESH_MS  how often the files are re-read for rotation (default 30000)
  TLS_CLIENT_CA_FILE, AUTH_ROLES_CLAIM, AUTH_CLINICIAN_ROLE, AUTH_ADMIN_ROLE, AUTH_SITE_CLAIM
                  read with the other TLS_* and AUTH_* settings (one environment serves every
                  process) but unused here: the bridge asks browsers for no client certificate
                  and leaves roles to the services
  LOG_LEVEL       pino level (default info)
`;

const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

function parseAddress(name: string, value: string): string {
  const match = HOST_PORT.exec(value);
  const port = Number(match?.[1]);
  if (match === null || port < 1 || port > 65_535) {
    throw new Error(`${name}: "${value}" is not host:port with a port from 1 to 65535`);
  }
  return value;
}

function parseOrigin(value: string): string {
  const example = "e.g. https://liver.example.org";
  if (value.includes("*")) {
    throw new Error(
      `CORS_ORIGINS: "*" is not allowed; list each origin that may call the gateway, ${example}`,
    );
  }
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (url === undefined || !/^https?:$/.test(url.protocol) || url.origin !== value.replace(/\/$/, "")) {
    throw new Error(`CORS_ORIGINS: "${value}" is not an origin (scheme://host[:port], no path), ${example}`);
  }
  return url.origin;
}

function list(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** Reads and validates the bridge's settings; throws naming the variable and what it accepts. */
export function readBridgeConfig(env: Env): BridgeConfig {
  const predictPort = readPort(env, "PREDICT_PORT", GATEWAY_DEFAULTS.predictPort);
  const retrainPort = readPort(env, "RETRAIN_PORT", GATEWAY_DEFAULTS.retrainPort);
  const predictList = list(readOptionalString(env, "PREDICT_ADDRS"));
  const predictAddresses = (predictList.length > 0 ? predictList : [`localhost:${predictPort}`]).map((a) =>
    parseAddress("PREDICT_ADDRS", a),
  );
  return {
    port: readPort(env, "GATEWAY_PORT", GATEWAY_DEFAULTS.gatewayPort),
    host: readString(env, "GATEWAY_HOST", "127.0.0.1"),
    predictAddresses,
    retrainAddress: parseAddress("RETRAIN_ADDR", readString(env, "RETRAIN_ADDR", `localhost:${retrainPort}`)),
    corsOrigins: list(readOptionalString(env, "CORS_ORIGINS")).map(parseOrigin),
    webRoot: readString(env, "WEB_ROOT", DEFAULT_WEB_ROOT),
    auth: readAuthConfig(env),
    tls: readTlsSettings(env),
  };
}
