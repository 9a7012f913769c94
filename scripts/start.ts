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
import { waitForServing } from "../services/shared/grpc/health-probe.js";
import { PREDICT_NODE_FLAGS } from "../services/predict/predict-node-flags.js";
import { createLogger } from "../services/shared/ops/logger.js";
import { grpcChannelCredentials } from "../services/shared/tls/grpc-tls-credentials.js";
import { readStartConfig, START_HELP } from "./start/start-config.js";
import { prepareStartSecrets } from "./start/start-secrets.js";
import { ProcessGroup } from "./start/process-group.js";

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
    console.log(START_HELP);
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
  const {
    dataPath,
    modelPath,
    predictPort,
    retrainPort,
    gatewayPort,
    predictMetricsPort,
    retrainMetricsPort,
    startTimeoutMs,
    signingKeyEnv,
  } = readStartConfig(env, root);
  const secrets = await prepareStartSecrets(dataPath, {
    authDev: values.auth === "dev",
    tls: values.tls,
    signingKeyEnv,
  });
  const key = secrets.signingKey;
  const shared: NodeJS.ProcessEnv = {
    ...env,
    DATA_PATH: dataPath,
    MODEL_PATH: modelPath,
    FEEDBACK_SIGNING_KEY: key.toString("hex"),
    RETRAIN_ADDR: `localhost:${retrainPort}`,
  };
  const issuer = secrets.issuer;
  if (issuer !== undefined) {
    Object.assign(shared, issuer.serviceEnv());
    console.log(
      `start: --auth dev: sign-in required; tokens from 'npm run -s token -- --sub alice --role liver-clinician' (keys in ${DevIssuer.folder(dataPath)})`,
    );
  }
  const tls = secrets.tls;
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
