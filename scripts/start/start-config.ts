/**
 * What `npm start` reads from the environment, and its `--help`, side by side so they cannot
 * drift apart (start-config.test.ts checks the help against what the readers read). Every
 * other variable in the environment passes through to the services, whose own readers and
 * help texts cover it.
 */
import path from "node:path";
import { NON_PUBLIC_METHOD_PATHS } from "../../gateway/public-methods.js";
import { type Env, readInteger, readPort, readString } from "../../services/shared/ops/env-config.js";
import { LPD_CSV_RELATIVE_PATH } from "../../services/shared/data/original-dataset.js";

/** The admin RPCs (refused without ADMIN_TOKEN or the admin role), from the gateway's list. */
export function adminRpcNames(): string[] {
  return Object.entries(NON_PUBLIC_METHOD_PATHS)
    .filter(([, why]) => why.startsWith("admin"))
    .map(([methodPath]) => methodPath.slice(methodPath.lastIndexOf("/") + 1));
}

/** Wraps a list of words to lines of at most `width` characters, each after `indent`. */
function wrap(words: readonly string[], indent: string, width: number): string {
  const lines: string[] = [];
  let line = "";
  for (const word of words) {
    if (line !== "" && indent.length + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines.map((l) => indent + l).join("\n");
}

const INDENT = " ".repeat(25);

/** `npm start -- --help`. */
export const START_HELP = `Usage: npm start -- [options]

Starts the liver-disease prediction mesh locally:
  retrain     liver.v1.RetrainService on RETRAIN_PORT (8080): feedback store, retraining, model registry
  predict-i   liver.v1.PredictService replica i on PREDICT_PORT + i (8000, 8001, ...)
  gateway     the web UI and the grpc-web bridge on GATEWAY_PORT (5000)

Options:
  --predict-replicas N   number of PredictService replicas (default 1, at most 16)
  --no-gateway           do not start the gateway and web UI
  --auth dev             require sign-in: create a local development issuer (an ES256 key and
                         its JWKS in DATA_PATH/dev-auth/) and point every service at it; mint
                         tokens with 'npm run token -- --sub alice --role liver-clinician'.
                         Without it, AUTH_* from the environment apply (unset: no sign-in)
  --tls                  run everything on TLS, with client certificates (mTLS) between services:
                         makes a throwaway CA and certificates under DATA_PATH/tls/ and prints
                         the grpcurl flags (-cacert, -cert, -key); the page is served over HTTPS
                         (your browser will not know the throwaway CA: accept it or import ca.pem)
  --reimport             when the original data differs from what the store was imported from
                         (for example the real CSV added after a start on the synthetic
                         default; every start compares and says so): re-import it and train a
                         first version on it, keeping all feedback (sets REIMPORT_ORIGINAL_DATA=1)
  -h, --help             show this help

Environment (defaults in brackets):
  DATA_PATH [data/]      SQLite store, signing key, and keys made by --auth dev and --tls
                         (all git-ignored under data/)
  TRAINING_CSV           the original dataset; when set it wins (an error if missing). Unset:
                         DATA_PATH/${LPD_CSV_RELATIVE_PATH.split(path.sep).join("/")}
                         when present, else a synthetic default (the UI says so)
  MODEL_PATH [models/]   model artifacts, one folder per version
  PREDICT_PORT [8000]  RETRAIN_PORT [8080]  GATEWAY_PORT [5000]
  PREDICT_METRICS_PORT [9100]  RETRAIN_METRICS_PORT [9101]
                         Prometheus ports; predict replica i uses PREDICT_METRICS_PORT + 2i
  START_TIMEOUT_MS [120000]
                         how long to wait for the services to report SERVING
  ADMIN_TOKEN            break-glass credential (16+ characters) for the admin RPCs:
${wrap(
  adminRpcNames().map((name, i, all) => (i < all.length - 1 ? `${name},` : name)),
  INDENT,
  98,
)}
                         (unset: refused unless an admin signs in)
  FEEDBACK_SIGNING_KEY   shared HMAC key; unset: generated once per DATA_PATH
  LOG_LEVEL [info]
Every other variable of the services (npm run start:retrain -- --help, npm run
start:predict -- --help) passes through to them.

Stop with Ctrl-C (a second Ctrl-C stops at once).`;

/** The start script's own settings. */
export interface StartConfig {
  readonly dataPath: string;
  readonly modelPath: string;
  readonly predictPort: number;
  readonly retrainPort: number;
  readonly gatewayPort: number;
  readonly predictMetricsPort: number;
  readonly retrainMetricsPort: number;
  readonly startTimeoutMs: number;
  readonly signingKeyEnv: string | undefined;
}

/** Reads the start script's settings; paths resolve against the repository root `root`. */
export function readStartConfig(env: Env, root: string): StartConfig {
  return {
    dataPath: path.resolve(root, readString(env, "DATA_PATH", "data/")),
    modelPath: path.resolve(root, readString(env, "MODEL_PATH", "models/")),
    predictPort: readPort(env, "PREDICT_PORT", 8000),
    retrainPort: readPort(env, "RETRAIN_PORT", 8080),
    gatewayPort: readPort(env, "GATEWAY_PORT", 5000),
    predictMetricsPort: readPort(env, "PREDICT_METRICS_PORT", 9100),
    retrainMetricsPort: readPort(env, "RETRAIN_METRICS_PORT", 9101),
    startTimeoutMs: readInteger(env, "START_TIMEOUT_MS", 120_000, 1_000, 3_600_000),
    signingKeyEnv: env["FEEDBACK_SIGNING_KEY"],
  };
}
