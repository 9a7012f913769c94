import { AUTH_HELP } from "../shared/auth/auth-help.js";
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
  TRAINING_CSV                  the original dataset elsewhere; when set it wins over the file in
                                DATA_PATH/raw (an error when missing)
  REIMPORT_ORIGINAL_DATA [off]  when the original data found at start differs from the data
                                the store was imported from (each start compares them and
                                says so in the log and GetRetrainStatus): re-import it, retire
                                the serving version and train a first version on the new data;
                                all feedback is kept (npm start -- --reimport sets it)
  MODEL_PATH [models/]          artifact folders v1/, v2/, ...
  ADMIN_TOKEN                   break-glass credential for the admin RPCs: TriggerRetrain,
                                RollbackModel, Approve/RejectModelVersion and the feedback
                                review (ListFeedback, ExcludeFeedback, ReleaseFeedback,
                                ListFeedbackAudit) (16+
                                characters; callers send "authorization: Bearer <token>"; every
                                use is logged as break-glass)
  FEEDBACK_SIGNING_KEY          HMAC key shared with PredictService (hex or base64, 32+ bytes);
                                unset: generated once in DATA_PATH
  HEARTBEAT_INTERVAL_MS [10000] version-stream heartbeat
  RETRAIN_DEBOUNCE_MS [200]     labelled feedback within this window joins one run
  RETRAIN_MIN_BATCH [1]         labelled feedback needed before a run starts
  GATE_AUC_TOLERANCE [0.01]     ROC AUC a candidate may lose against the serving model
                                (re-scored on the same holdout rows; negative: demand a gain)
  GATE_MAX_LOSS_VS_REFERENCE [0.01]
                                ROC AUC a candidate may lose against the fixed reference
                                (trained on the original data alone): bounds the total drift
  GATE_MIN_AUC [0.6]            absolute floor on the holdout ROC AUC
  GATE_MAX_SLICE_CHANGE [0.05]  largest share of a slice (gender, age band, lab band) whose
                                predicted class may differ from the reference's
  GATE_MIN_SLICE_ROWS [50]      smaller slices are reported, not judged
  APPROVAL_MAX_CLASS_CHANGE [0.02]
                                0 to 1: a candidate whose served answers change the predicted
                                class for more of the population or of a slice, at any site,
                                than the last approved version waits for an admin
                                (ApproveModelVersion / RejectModelVersion)
  FEEDBACK_SCREENING [on]       quarantine labelled feedback that is implausible against the
                                original data (leverage, Mahalanobis distance, a label against
                                a >= 95% confident answer) until an operator releases it
  FEEDBACK_TRAINING_ROWS_PER_SOURCE [100]
                                one source's most recent labelled rows that join base training
                                (0: all); the recalibration sees every source's recent rows
  SITE_RECALIBRATION [on]       learn slope and intercept of the served log-odds from recent
                                labelled feedback (bounded, checked on held-out feedback)
  SHUTDOWN_GRACE_MS [10000]     SIGTERM: time to drain calls
  TRUSTED_GATEWAY_ADDRESSES [127.0.0.1/8,::1/128]
                                comma-separated IPs/CIDRs of the gateways (bridge, Envoy): only
                                from these peers is the last x-forwarded-for entry recorded as
                                the feedback's client address, and x-liver-site (the caller's
                                site, without sign-in) believed; empty trusts nobody
  MAX_SITES [50]                sites with a calibration of their own (bounds metric labels);
                                other sites are answered by the base model
  FEEDBACK_PER_SOURCE_PER_HOUR [200]
                                labelled feedbacks one source (principal, else forwarded client
                                address, else peer address) may send per sliding hour; more
                                answer RESOURCE_EXHAUSTED with the seconds to wait; 0 unlimited
  WATCH_STREAMS_PER_CLIENT [64] open WatchModelVersions streams one client (forwarded client
                                address, else peer address) may hold; more answer
                                RESOURCE_EXHAUSTED
  WATCH_STREAMS_TOTAL [4096]    open WatchModelVersions streams of clients behind gateways,
                                and apart from them of direct peers (Predict replicas)
${AUTH_HELP}
  LOG_LEVEL [info]              pino level; logs are JSON on stdout
${TLS_HELP}`;
