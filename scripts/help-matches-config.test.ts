/**
 * One truth in help and code: for each process, every environment variable its configuration
 * reader reads is named in its `--help`, and every variable its help names is read (by the
 * reader, or by the one other place said here). The reader is run on a recording environment,
 * once with nothing set and once with authentication and TLS on, so variables read only in
 * those modes count too.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BRIDGE_ENV_HELP, readBridgeConfig } from "../gateway/bridge/bridge-config.js";
import { GrpcCode } from "../gateway/web/src/grpc-status.js";
import { PREDICT_HELP } from "../services/predict/predict-help.js";
import { readPredictConfig } from "../services/predict/predict-config.js";
import { RETRAIN_HELP } from "../services/retrain/retrain-help.js";
import { readRetrainConfig } from "../services/retrain/retrain-config.js";
import type { Env } from "../services/shared/ops/env-config.js";
import { adminRpcNames, readStartConfig, START_HELP } from "./start/start-config.js";

const dataPath = mkdtempSync(path.join(tmpdir(), "help-config-"));
afterAll(() => rmSync(dataPath, { recursive: true, force: true }));

/** Settings every run needs so no reader writes outside the temp folder. */
const BASE: Record<string, string> = { DATA_PATH: dataPath, FEEDBACK_SIGNING_KEY: "ab".repeat(32) };
/** Authentication and TLS on: the readers then read their dependent variables too. */
const ALL_MODES: Record<string, string> = {
  ...BASE,
  AUTH_ISSUER: "https://issuer.example",
  AUTH_AUDIENCE: "liver-mesh",
  AUTH_JWKS_FILE: path.join(dataPath, "jwks.json"),
  TLS_CERT_FILE: path.join(dataPath, "cert.pem"),
  TLS_KEY_FILE: path.join(dataPath, "key.pem"),
  TLS_CLIENT_CA_FILE: path.join(dataPath, "ca.pem"),
};

/** The names `read` looks up in its environment, over both runs. */
function namesRead(read: (env: Env) => unknown): Set<string> {
  const seen = new Set<string>();
  for (const values of [BASE, ALL_MODES]) {
    const env = new Proxy(values, {
      get(target, name) {
        if (typeof name === "string") seen.add(name);
        return typeof name === "string" ? target[name] : undefined;
      },
    });
    read(env);
  }
  return seen;
}

/** gRPC status names a help may quote ("answer RESOURCE_EXHAUSTED"); they are not variables. */
const STATUS_NAMES = new Set(Object.keys(GrpcCode));

/** Environment variable names a help text mentions (upper case with an underscore). */
function namesInHelp(help: string): Set<string> {
  return new Set(
    (help.match(/\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g) ?? []).filter((n) => !STATUS_NAMES.has(n)),
  );
}

/** LOG_LEVEL is read by the logger (process.env), not by the configuration readers. */
const READ_BY_LOGGER = ["LOG_LEVEL"];

describe.each([
  { name: "RetrainService", help: RETRAIN_HELP, read: readRetrainConfig, elsewhere: READ_BY_LOGGER },
  { name: "PredictService", help: PREDICT_HELP, read: readPredictConfig, elsewhere: READ_BY_LOGGER },
  { name: "the grpc-web bridge", help: BRIDGE_ENV_HELP, read: readBridgeConfig, elsewhere: READ_BY_LOGGER },
])("$name: --help against the configuration reader", ({ help, read, elsewhere }) => {
  it("names every variable the reader reads", () => {
    const inHelp = namesInHelp(help);
    expect([...namesRead(read)].filter((name) => !inHelp.has(name))).toEqual([]);
  });

  it("names no variable that nothing reads", () => {
    const read_ = namesRead(read);
    expect([...namesInHelp(help)].filter((name) => !read_.has(name) && !elsewhere.includes(name))).toEqual(
      [],
    );
  });
});

describe("npm start -- --help against what start and the services read", () => {
  const startReads = namesRead((env) => readStartConfig(env, dataPath));
  const serviceReads = new Set([
    ...namesRead(readRetrainConfig),
    ...namesRead(readPredictConfig),
    ...namesRead(readBridgeConfig),
  ]);

  it("names every variable the start script itself reads", () => {
    const inHelp = namesInHelp(START_HELP);
    expect([...startReads].filter((name) => !inHelp.has(name))).toEqual([]);
  });

  it("names only variables that start or a service reads (the rest pass through to the services)", () => {
    expect(
      [...namesInHelp(START_HELP)].filter(
        (name) => !startReads.has(name) && !serviceReads.has(name) && !READ_BY_LOGGER.includes(name),
      ),
    ).toEqual([]);
  });

  it("says TRAINING_CSV wins over the file in DATA_PATH/raw, as the dataset loader does", () => {
    expect(START_HELP).toMatch(/TRAINING_CSV\s+the original dataset; when set it wins/);
    expect(RETRAIN_HELP).toMatch(/TRAINING_CSV[^\n]*wins/);
  });

  it("lists every admin RPC that ADMIN_TOKEN enables, in start's help and Retrain's", () => {
    const admin = adminRpcNames();
    expect(admin).toEqual(expect.arrayContaining(["TriggerRetrain", "RollbackModel", "ListFeedback"]));
    for (const name of admin) {
      expect(START_HELP, name).toContain(name);
      expect(RETRAIN_HELP, name).toContain(name);
    }
  });
});
