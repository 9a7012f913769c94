import { TLS_HELP } from "../shared/tls/tls-settings.js";

/** `--help` of the RetrainService process. */
export const RETRAIN_HELP = `Usage: node services/retrain/main.ts   (npm run start:retrain; compiled: node dist/services/retrain/main.js)

liver.v1.RetrainService: feedback store (SQLite), background retraining in a worker
thread, quality gate, model registry and the WatchModelVersions stream. Also serves
grpc.health.v1 and server reflection. Settings come from the environment:

  RETRAIN_PORT [8080]           gRPC port (0 picks a free one)
  RETRAIN_HOST [0.0.0.0]        listen address
  RETRAIN_METRICS_PORT [9101]   Prometheus /metrics over HTTP
  DATA_PATH [data/]             SQLite store (liver.db); the real dataset is read from
                                DATA_PATH/raw/Liver Patient Dataset (LPD)_train.csv when present
  TRAINING_CSV                  the original dataset elsewhere (an error when missing)
  MODEL_PATH [models/]          artifact folders v1/, v2/, ...
  ADMIN_TOKEN                   enables TriggerRetrain and RollbackModel (16+ characters;
                                callers send "authorization: Bearer <token>")
  FEEDBACK_SIGNING_KEY          HMAC key shared with PredictService (hex or base64, 32+ bytes);
                                unset: generated once in DATA_PATH
  HEARTBEAT_INTERVAL_MS [10000] version-stream heartbeat
  RETRAIN_DEBOUNCE_MS [200]     labelled feedback within this window joins one run
  RETRAIN_MIN_BATCH [1]         labelled feedback needed before a run starts
  GATE_AUC_TOLERANCE [0.01]     promote unless holdout AUC is worse than serving by more
  SHUTDOWN_GRACE_MS [10000]     SIGTERM: time to drain calls
  LOG_LEVEL [info]              pino level; logs are JSON on stdout
${TLS_HELP}`;
