import { AUTH_HELP } from "../shared/auth/auth-help.js";
import { TLS_HELP } from "../shared/tls/tls-settings.js";

/** `--help` of the PredictService process. */
export const PREDICT_HELP = `Usage: node services/predict/main.ts   (npm run start:predict; compiled: node dist/services/predict/main.js)

liver.v1.PredictService replica: validates and scores patients with the serving model,
signs feedback tokens, and follows RetrainService's version stream to swap models in
without a restart. Also serves grpc.health.v1 and server reflection. Settings come from
the environment:

  PREDICT_PORT [8000]             gRPC port (0 picks a free one)
  PREDICT_HOST [0.0.0.0]          listen address
  PREDICT_METRICS_PORT [9100]     Prometheus /metrics over HTTP
  RETRAIN_ADDR [localhost:8080]   where RetrainService is
  FEEDBACK_SIGNING_KEY            HMAC key shared with RetrainService (hex or base64, 32+ bytes);
                                  unset: generated once in DATA_PATH
  DATA_PATH [data]                where a generated signing key is kept
  MODEL_CACHE_PATH                last good artifact, served when Retrain is unreachable at start
                                  [DATA_PATH/predict-cache-<port>]
  BUNDLED_MODEL_PATH              an artifact folder to serve when Retrain is unreachable and the
                                  cache is empty
  HEARTBEAT_TIMEOUT_MS [30000]    reconnect when the version stream is silent this long
  RECONNECT_INITIAL_MS [100]  RECONNECT_MAX_MS [5000]   jittered exponential backoff
  STARTUP_FALLBACK_MS [3000]      wait this long for Retrain before serving the cache or bundle
  ARTIFACT_FETCH_TIMEOUT_MS [30000]
  VALIDATE_WITH_TFJS [false]      also check each new model against TensorFlow.js at warm-up
  EXPLAIN_PREDICTIONS [true]      Predict answers carry per-feature log-odds contributions
                                  (PredictBatch: only when the request asks)
  SHUTDOWN_GRACE_MS [10000]       SIGTERM: time to drain calls
  TRUSTED_GATEWAY_ADDRESSES [127.0.0.1/8,::1/128]
                                  IPs/CIDRs of the gateways whose x-liver-site header (the
                                  caller's site, without sign-in) is believed; empty trusts nobody
${AUTH_HELP}
  LOG_LEVEL [info]                pino level; logs are JSON on stdout
${TLS_HELP}`;
