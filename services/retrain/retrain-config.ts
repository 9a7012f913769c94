import { type AuthConfig, readAuthConfig } from "../shared/auth/auth-config.js";
import { DEFAULT_MAX_SITES } from "./stored-candidate-training.js";
import { DEFAULT_WATCH_STREAMS_PER_CLIENT, DEFAULT_WATCH_STREAMS_TOTAL } from "./watch-stream-quota.js";
import path from "node:path";
import { DEFAULT_GATE_POLICY, type GatePolicy } from "./quality-gate.js";
import { DEFAULT_TRAINING_ROWS_PER_SOURCE } from "./source-capped-rows.js";
import type { BlockList } from "node:net";
import { loadOrCreateSigningKey } from "../shared/feedback/signing-key.js";
import {
  readInteger,
  readNumber,
  readBoolean,
  readOptionalPort,
  readOptionalString,
  readPort,
  readString,
  type Env,
} from "../shared/ops/env-config.js";
import { DEFAULT_TRUSTED_GATEWAY_ADDRESSES, parseTrustedAddresses } from "./feedback-attribution.js";
import { DEFAULT_FEEDBACK_PER_SOURCE_PER_HOUR } from "./source-rate-limiter.js";
import { readTlsSettings, type TlsSettings } from "../shared/tls/tls-settings.js";

/** Default RetrainService gRPC port (docs/architecture.md, Configuration). */
export const DEFAULT_RETRAIN_PORT = 8080;
/** Default Prometheus port of the RetrainService. */
export const DEFAULT_RETRAIN_METRICS_PORT = 9101;
/** Default interval between heartbeats on the version stream. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;
/** Default window that collects feedback into one run after the first labelled arrival. */
export const DEFAULT_RETRAIN_DEBOUNCE_MS = 200;
/** Default number of pending labelled feedbacks that makes a run due. */
export const DEFAULT_RETRAIN_MIN_BATCH = 1;
/** Default time SIGTERM gives running calls before they are cancelled. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
/** SQLite file name inside DATA_PATH (data/README.md and .gitignore know it as liver.db*). */
export const STORE_FILE_NAME = "liver.db";

/**
 * Everything the RetrainService needs to start, resolved and validated once, so handlers
 * and tests never read process.env.
 */
export interface RetrainConfig {
  readonly host: string;
  readonly port: number;
  readonly metricsPort: number;
  /** Folder of the SQLite store, the signing key and (by default) the original CSV. */
  readonly dataPath: string;
  /** Folder of the artifact folders v1/, v2/, ... */
  readonly modelPath: string;
  /** The original CSV when set; else `<dataPath>/raw/...` when present; else the synthetic default. */
  readonly trainingCsv: string | undefined;
  /** Bearer token of the admin RPCs; undefined disables them. */
  readonly adminToken: string | undefined;
  /** HMAC key shared with PredictService. */
  readonly signingKey: Uint8Array;
  readonly heartbeatIntervalMs: number;
  readonly debounceMs: number;
  readonly minBatch: number;
  /** The quality gate's thresholds (GATE_* settings). */
  readonly gatePolicy: GatePolicy;
  /** SITE_RECALIBRATION: learn the site recalibration from recent labelled feedback. */
  readonly siteRecalibration: boolean;
  /**
   * REIMPORT_ORIGINAL_DATA: when the original data found at start differs from the store's,
   * replace it and train a first version on it, keeping all feedback (original-data-check.ts).
   */
  readonly reimportOriginalData?: boolean;
  /** FEEDBACK_SCREENING: quarantine implausible labelled feedback (plausibility-screen.ts). */
  readonly feedbackScreening: boolean;
  /** FEEDBACK_TRAINING_ROWS_PER_SOURCE: one source's most recent rows in base training; 0 for all. */
  readonly trainingRowsPerSource: number;
  /** MAX_SITES: sites with a calibration of their own; omitted: 50. */
  readonly maxSites?: number | undefined;
  readonly shutdownGraceMs: number;
  /** Peers whose x-forwarded-for is believed (the gateways); TRUSTED_GATEWAY_ADDRESSES. */
  readonly trustedGateways: BlockList;
  /** Labelled feedbacks one source may send per sliding hour; 0 unlimited. */
  readonly feedbackPerSourcePerHour: number;
  /** How SubmitFeedback and admin callers are authenticated; undefined: AUTH_ISSUER unset. */
  readonly auth?: AuthConfig | undefined;
  /** TLS_* settings: the server's certificate and mTLS. Absent: plaintext. */
  readonly tls?: TlsSettings;
  /** HEALTH_PORT: plaintext grpc.health.v1 only, for Kubernetes probes of a TLS-only server. */
  readonly healthPort?: number | undefined;
  /** WATCH_STREAMS_PER_CLIENT: open WatchModelVersions streams one client may hold; omitted: 64. */
  readonly watchStreamsPerClient?: number | undefined;
  /** WATCH_STREAMS_TOTAL: open WatchModelVersions streams per pool (behind gateways, direct); omitted: 4,096. */
  readonly watchStreamsTotal?: number | undefined;
}

/** The SQLite file of a configuration. */
export function storeFilePath(config: Pick<RetrainConfig, "dataPath">): string {
  return path.join(config.dataPath, STORE_FILE_NAME);
}

/** Reads the RetrainService settings (binding names: README.md, Configuration) with errors naming the variable. */
export function readRetrainConfig(env: Env): RetrainConfig {
  const dataPath = path.resolve(readString(env, "DATA_PATH", "data/"));
  const adminToken = readOptionalString(env, "ADMIN_TOKEN");
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new Error(
      `ADMIN_TOKEN is ${adminToken.length} characters; use at least 16 (make one with: openssl rand -hex 32)`,
    );
  }
  const trainingCsv = readOptionalString(env, "TRAINING_CSV");
  return {
    host: readString(env, "RETRAIN_HOST", "0.0.0.0"),
    port: readPort(env, "RETRAIN_PORT", DEFAULT_RETRAIN_PORT),
    metricsPort: readPort(env, "RETRAIN_METRICS_PORT", DEFAULT_RETRAIN_METRICS_PORT),
    dataPath,
    modelPath: path.resolve(readString(env, "MODEL_PATH", "models/")),
    trainingCsv: trainingCsv === undefined ? undefined : path.resolve(trainingCsv),
    adminToken,
    signingKey: loadOrCreateSigningKey(dataPath, env["FEEDBACK_SIGNING_KEY"]),
    heartbeatIntervalMs: readInteger(
      env,
      "HEARTBEAT_INTERVAL_MS",
      DEFAULT_HEARTBEAT_INTERVAL_MS,
      10,
      3_600_000,
    ),
    debounceMs: readInteger(env, "RETRAIN_DEBOUNCE_MS", DEFAULT_RETRAIN_DEBOUNCE_MS, 0, 86_400_000),
    minBatch: readInteger(env, "RETRAIN_MIN_BATCH", DEFAULT_RETRAIN_MIN_BATCH, 1, 1_000_000_000),
    gatePolicy: readGatePolicy(env),
    siteRecalibration: readBoolean(env, "SITE_RECALIBRATION", true),
    feedbackScreening: readBoolean(env, "FEEDBACK_SCREENING", true),
    reimportOriginalData: readBoolean(env, "REIMPORT_ORIGINAL_DATA", false),
    trainingRowsPerSource: readInteger(
      env,
      "FEEDBACK_TRAINING_ROWS_PER_SOURCE",
      DEFAULT_TRAINING_ROWS_PER_SOURCE,
      0,
      1_000_000_000,
    ),
    maxSites: readInteger(env, "MAX_SITES", DEFAULT_MAX_SITES, 0, 10_000),
    shutdownGraceMs: readInteger(env, "SHUTDOWN_GRACE_MS", DEFAULT_SHUTDOWN_GRACE_MS, 0, 600_000),
    trustedGateways: parseTrustedAddresses(
      readString(env, "TRUSTED_GATEWAY_ADDRESSES", DEFAULT_TRUSTED_GATEWAY_ADDRESSES),
    ),
    feedbackPerSourcePerHour: readInteger(
      env,
      "FEEDBACK_PER_SOURCE_PER_HOUR",
      DEFAULT_FEEDBACK_PER_SOURCE_PER_HOUR,
      0,
      1_000_000_000,
    ),
    auth: readAuthConfig(env),
    tls: readTlsSettings(env),
    healthPort: readOptionalPort(env, "HEALTH_PORT"),
    watchStreamsPerClient: readInteger(
      env,
      "WATCH_STREAMS_PER_CLIENT",
      DEFAULT_WATCH_STREAMS_PER_CLIENT,
      1,
      1_000_000,
    ),
    watchStreamsTotal: readInteger(env, "WATCH_STREAMS_TOTAL", DEFAULT_WATCH_STREAMS_TOTAL, 1, 1_000_000),
  };
}

/** The GATE_* settings, each defaulting to DEFAULT_GATE_POLICY. */
function readGatePolicy(env: Env): GatePolicy {
  const d = DEFAULT_GATE_POLICY;
  return {
    servingTolerance: readNumber(env, "GATE_AUC_TOLERANCE", d.servingTolerance, -1, 1),
    minRocAuc: readNumber(env, "GATE_MIN_AUC", d.minRocAuc, 0, 1),
    maxLossVsReference: readNumber(env, "GATE_MAX_LOSS_VS_REFERENCE", d.maxLossVsReference, -1, 1),
    maxSliceChange: readNumber(env, "GATE_MAX_SLICE_CHANGE", d.maxSliceChange, 0, 1),
    minSliceRows: readInteger(env, "GATE_MIN_SLICE_ROWS", d.minSliceRows, 1, 1_000_000_000),
    approvalMaxClassChange: readNumber(env, "APPROVAL_MAX_CLASS_CHANGE", d.approvalMaxClassChange, 0, 1),
  };
}
