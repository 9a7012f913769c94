/**
 * `npm start`: the whole system on this machine with embedded defaults: RetrainService,
 * N PredictService replicas and the grpc-web gateway serving the web UI, one log stream
 * prefixed per process, and a clean stop on Ctrl-C or SIGTERM.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DevIssuer } from "../services/shared/auth/dev-issuer.js";
import { loadOrCreateSigningKey } from "../services/shared/feedback/signing-key.js";
import { waitForServing } from "../services/shared/grpc/health-probe.js";
import { readInteger, readPort, readString } from "../services/shared/ops/env-config.js";
import { PREDICT_NODE_FLAGS } from "../services/predict/predict-node-flags.js";
import { createLogger } from "../services/shared/ops/logger.js";
import { grpcChannelCredentials } from "../services/shared/tls/grpc-tls-credentials.js";
import { makeThrowawayTls, throwawayTlsDir } from "./start/throwaway-tls.js";
import { ProcessGroup } from "./start/process-group.js";

const HELP = `Usage: npm start -- [options]

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
  DATA_PATH [data/]      SQLite store, signing key; the real dataset is read from
                         DATA_PATH/raw/Liver Patient Dataset (LPD)_train.csv when present,
                         else TRAINING_CSV, else a synthetic default (the UI says so)
  MODEL_PATH [models/]   model artifacts, one folder per version
  PREDICT_PORT [8000]  RETRAIN_PORT [8080]  GATEWAY_PORT [5000]
  ADMIN_TOKEN            enables TriggerRetrain and RollbackModel (unset: refused)
  FEEDBACK_SIGNING_KEY   shared HMAC key; unset: generated once per DATA_PATH
  LOG_LEVEL [info]

Stop with Ctrl-C (a second Ctrl-C stops at once).`;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      "predict-replicas": { type: "string", default: "1" },
      "no-gateway": { type: "boolean", default: false },
      auth: { type: "string" },
      tls: { type: "boolean", default: false },
      reimport: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const replicas = Number(values["predict-replicas"]);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 16) {
    console.error(
      `--predict-replicas ${values["predict-replicas"]} is not valid: expected a whole number from 1 to 16`,
    );
    return 2;
  }
  if (values.auth !== undefined && values.auth !== "dev") {
    console.error(
      `--auth ${values.auth} is not valid: the only value is 'dev' (a real issuer is set with AUTH_ISSUER)`,
    );
    return 2;
  }
  const env = process.env;
  const dataPath = path.resolve(root, readString(env, "DATA_PATH", "data/"));
  const modelPath = path.resolve(root, readString(env, "MODEL_PATH", "models/"));
  const predictPort = readPort(env, "PREDICT_PORT", 8000);
  const retrainPort = readPort(env, "RETRAIN_PORT", 8080);
  const gatewayPort = readPort(env, "GATEWAY_PORT", 5000);
  const predictMetricsPort = readPort(env, "PREDICT_METRICS_PORT", 9100);
  const retrainMetricsPort = readPort(env, "RETRAIN_METRICS_PORT", 9101);
  const startTimeoutMs = readInteger(env, "START_TIMEOUT_MS", 120_000, 1_000, 3_600_000);
  const key = loadOrCreateSigningKey(dataPath, env.FEEDBACK_SIGNING_KEY);
  const shared: NodeJS.ProcessEnv = {
    ...env,
    DATA_PATH: dataPath,
    MODEL_PATH: modelPath,
    FEEDBACK_SIGNING_KEY: key.toString("hex"),
    RETRAIN_ADDR: `localhost:${retrainPort}`,
  };
  if (values.auth === "dev") {
    const issuer = await DevIssuer.loadOrCreate(dataPath);
    Object.assign(shared, issuer.serviceEnv());
    console.log(
      `start: --auth dev: sign-in required; tokens from 'npm run -s token -- --sub alice --role liver-clinician' (keys in ${DevIssuer.folder(dataPath)})`,
    );
  }
  const tls = values.tls ? await makeThrowawayTls(throwawayTlsDir(dataPath)) : undefined;
  const probeCredentials =
    tls === undefined ? undefined : grpcChannelCredentials(tls.client, createLogger("start"));

  if (!values["no-gateway"]) {
    console.log("start: building the web UI");
    const build = spawnSync(process.execPath, ["--import", "tsx", path.join(root, "gateway/web/build.ts")], {
      stdio: "inherit",
      cwd: root,
    });
    if (build.status !== 0) {
      console.error("start: the web UI did not build; see the messages above");
      return 1;
    }
  }

  const names = ["retrain", ...Array.from({ length: replicas }, (_, i) => `predict-${i}`), "gateway"];
  let failed = false;
  const group = new ProcessGroup(names, (name, code, signal) => {
    failed = true;
    console.error(
      `start: ${name} stopped unexpectedly (${signal ?? `exit code ${code ?? "?"}`}); stopping the rest`,
    );
    void group.stop(10_000).then(() => process.exit(1));
  });

  const stop = (): void => {
    console.log("start: stopping (press Ctrl-C again to kill at once)");
    void group.stop(15_000).then(() => process.exit(failed ? 1 : 0));
  };
  let signals = 0;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      signals += 1;
      if (signals > 1) process.exit(130);
      stop();
    });
  }

  group.start({
    name: "retrain",
    entry: path.join(root, "services/retrain/main.ts"),
    env: {
      ...shared,
      ...tls?.retrain,
      RETRAIN_PORT: String(retrainPort),
      RETRAIN_METRICS_PORT: String(retrainMetricsPort),
      ...(values.reimport ? { REIMPORT_ORIGINAL_DATA: "1" } : {}),
    },
  });
  const predictAddresses: string[] = [];
  for (let i = 0; i < replicas; i++) {
    predictAddresses.push(`localhost:${predictPort + i}`);
    group.start({
      name: `predict-${i}`,
      entry: path.join(root, "services/predict/main.ts"),
      nodeFlags: PREDICT_NODE_FLAGS,
      env: {
        ...shared,
        ...tls?.predict,
        PREDICT_PORT: String(predictPort + i),
        // Even ports for replicas, so they never meet retrain's default 9101.
        PREDICT_METRICS_PORT: String(predictMetricsPort + 2 * i),
        MODEL_CACHE_PATH: path.join(dataPath, "predict-cache", String(i)),
      },
    });
  }
  if (!values["no-gateway"]) {
    group.start({
      name: "gateway",
      entry: path.join(root, "gateway/bridge/main.ts"),
      env: {
        ...shared,
        ...tls?.gateway,
        GATEWAY_PORT: String(gatewayPort),
        PREDICT_ADDRS: predictAddresses.join(","),
        WEB_ROOT: path.join(root, "gateway/web/dist"),
      },
    });
  }

  console.log(
    `start: waiting for retrain (the first start imports the data and trains v1) and ${replicas} predict replica(s)`,
  );
  try {
    await waitForServing(`localhost:${retrainPort}`, startTimeoutMs, undefined, probeCredentials);
    await Promise.all(
      predictAddresses.map((address) => waitForServing(address, startTimeoutMs, undefined, probeCredentials)),
    );
  } catch (error) {
    console.error(`start: ${error instanceof Error ? error.message : String(error)}; stopping`);
    await group.stop(10_000);
    return 1;
  }
  const grpcurl = `grpcurl ${tls?.grpcurlFlags ?? "-plaintext"} localhost:${predictPort} list`;
  console.log(
    values["no-gateway"]
      ? `start: ready. PredictService on ${predictAddresses.join(", ")}, RetrainService on localhost:${retrainPort} (${grpcurl})`
      : `start: ready. Open ${tls === undefined ? "http" : "https"}://localhost:${gatewayPort}/ in a browser (${grpcurl} for the API)`,
  );
  return await new Promise<number>(() => undefined);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
