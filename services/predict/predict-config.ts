import path from "node:path";
import type { BlockList } from "node:net";
import { DEFAULT_TRUSTED_GATEWAY_ADDRESSES, parseTrustedAddresses } from "../shared/net/trusted-gateways.js";
import { type AuthConfig, readAuthConfig } from "../shared/auth/auth-config.js";
import { loadOrCreateSigningKey } from "../shared/feedback/signing-key.js";
import {
  type Env,
  readBoolean,
  readInteger,
  readOptionalPort,
  readOptionalString,
  readPort,
  readString,
} from "../shared/ops/env-config.js";
import { readTlsSettings, type TlsSettings } from "../shared/tls/tls-settings.js";

/** Default gRPC port of PredictService (binding: README.md, Configuration). */
export const DEFAULT_PREDICT_PORT = 8000;
/** Default Prometheus port; replica i of a local run adds i, like the gRPC port. */
export const DEFAULT_PREDICT_METRICS_PORT = 9100;
/** Where RetrainService listens by default (binding: README.md, Configuration). */
export const DEFAULT_RETRAIN_ADDR = "localhost:8080";
/** RetrainService's default heartbeat interval; the watchdog allows three of them. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;

/** Everything a PredictService process needs to start; see readPredictConfig for the variables. */
export interface PredictConfig {
  /** Interface to bind, "0.0.0.0" in containers, "127.0.0.1" in tests. */
  readonly host: string;
  /** gRPC port; 0 picks a free one. */
  readonly port: number;
  /** Prometheus port; 0 picks a free one. */
  readonly metricsPort: number;
  /** host:port of RetrainService. */
  readonly retrainAddr: string;
  /** HMAC key shared with RetrainService, which verifies the feedback tokens. */
  readonly signingKey: Uint8Array;
  /** Folder holding this replica's last good artifact. */
  readonly modelCachePath: string;
  /** Artifact folder served when RetrainService is unreachable and the cache is empty. */
  readonly bundledModelPath: string | undefined;
  /** A version stream silent for this long is presumed dead and reopened. */
  readonly heartbeatTimeoutMs: number;
  /** First reconnect delay; doubles per failed attempt up to reconnectMaxMs, with full jitter. */
  readonly reconnectInitialMs: number;
  readonly reconnectMaxMs: number;
  /** How long a starting replica waits for RetrainService before serving its cache or bundle. */
  readonly startupFallbackMs: number;
  /** Deadline of one GetModelArtifact call. */
  readonly artifactFetchTimeoutMs: number;
  /** How long running calls may finish after SIGTERM before they are cancelled. */
  readonly shutdownGraceMs: number;
  /**
   * Also check each model against its own tfjs layers model at warm-up. Off by default:
   * TensorFlow.js costs a replica about 90 MiB of RSS, and the serving scorer never needs it.
   */
  readonly validateWithTfjs: boolean;
  /** How Predict and PredictBatch callers are authenticated; undefined: they are not (AUTH_ISSUER unset). */
  readonly auth?: AuthConfig | undefined;
  /** TLS_* settings: the server's certificate, mTLS, and the CA for calls to Retrain. Absent: plaintext. */
  readonly tls?: TlsSettings;
  /** HEALTH_PORT: plaintext grpc.health.v1 only, for Kubernetes probes of a TLS-only server. */
  readonly healthPort?: number | undefined;
  /**
   * Whether Predict answers carry their explanation (on by default; off only to measure
   * what explanations cost, or for clients that never show them).
   */
  readonly explainPredictions: boolean;
  /** TRUSTED_GATEWAY_ADDRESSES: peers whose x-liver-site is believed (default loopback); omitted: loopback. */
  readonly trustedGateways?: BlockList | undefined;
}

/**
 * Reads the settings (the names in README.md, Configuration are binding: PREDICT_PORT, RETRAIN_ADDR, DATA_PATH,
 * FEEDBACK_SIGNING_KEY). Loads or creates the signing key, so a bad key fails at start.
 * The cache defaults to one folder per port so local replicas never share one.
 */
export function readPredictConfig(env: Env = process.env): PredictConfig {
  const port = readPort(env, "PREDICT_PORT", DEFAULT_PREDICT_PORT);
  const dataPath = readString(env, "DATA_PATH", "data");
  const heartbeatTimeoutMs = readInteger(
    env,
    "HEARTBEAT_TIMEOUT_MS",
    3 * DEFAULT_HEARTBEAT_INTERVAL_MS,
    100,
    3_600_000,
  );
  const reconnectInitialMs = readInteger(env, "RECONNECT_INITIAL_MS", 100, 1, 60_000);
  return {
    host: readString(env, "PREDICT_HOST", "0.0.0.0"),
    port,
    metricsPort: readPort(env, "PREDICT_METRICS_PORT", DEFAULT_PREDICT_METRICS_PORT),
    retrainAddr: readString(env, "RETRAIN_ADDR", DEFAULT_RETRAIN_ADDR),
    signingKey: loadOrCreateSigningKey(dataPath, readOptionalString(env, "FEEDBACK_SIGNING_KEY")),
    modelCachePath: readString(env, "MODEL_CACHE_PATH", path.join(dataPath, `predict-cache-${port}`)),
    bundledModelPath: readOptionalString(env, "BUNDLED_MODEL_PATH"),
    heartbeatTimeoutMs,
    reconnectInitialMs,
    reconnectMaxMs: readInteger(env, "RECONNECT_MAX_MS", 5_000, reconnectInitialMs, 600_000),
    startupFallbackMs: readInteger(env, "STARTUP_FALLBACK_MS", 3_000, 0, 600_000),
    artifactFetchTimeoutMs: readInteger(env, "ARTIFACT_FETCH_TIMEOUT_MS", 30_000, 100, 600_000),
    shutdownGraceMs: readInteger(env, "SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    validateWithTfjs: readBoolean(env, "VALIDATE_WITH_TFJS", false),
    auth: readAuthConfig(env),
    tls: readTlsSettings(env),
    healthPort: readOptionalPort(env, "HEALTH_PORT"),
    explainPredictions: readBoolean(env, "EXPLAIN_PREDICTIONS", true),
    trustedGateways: parseTrustedAddresses(
      readString(env, "TRUSTED_GATEWAY_ADDRESSES", DEFAULT_TRUSTED_GATEWAY_ADDRESSES),
    ),
  };
}
