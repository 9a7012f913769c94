import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readPredictConfig } from "./predict-config.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "predict-config-"));
  dirs.push(dir);
  return dir;
}

describe("readPredictConfig", () => {
  it("uses the binding defaults and keeps one cache folder per port", () => {
    const data = dataDir();
    const config = readPredictConfig({ DATA_PATH: data });
    expect(config.port).toBe(8000);
    expect(config.metricsPort).toBe(9100);
    expect(config.retrainAddr).toBe("localhost:8080");
    expect(config.heartbeatTimeoutMs).toBe(30_000);
    expect(config.modelCachePath).toBe(path.join(data, "predict-cache-8000"));
    expect(config.bundledModelPath).toBeUndefined();
    expect(config.validateWithTfjs).toBe(false);
    expect(config.explainPredictions).toBe(true);
    expect(readPredictConfig({ DATA_PATH: data, PREDICT_PORT: "8003" }).modelCachePath).toBe(
      path.join(data, "predict-cache-8003"),
    );
  });

  it("creates the signing key in DATA_PATH once, or takes FEEDBACK_SIGNING_KEY", () => {
    const data = dataDir();
    const first = readPredictConfig({ DATA_PATH: data });
    const again = readPredictConfig({ DATA_PATH: data });
    expect(Buffer.from(again.signingKey).equals(Buffer.from(first.signingKey))).toBe(true);
    expect(readFileSync(path.join(data, "feedback-signing.key"), "utf8").trim()).toBe(
      Buffer.from(first.signingKey).toString("hex"),
    );
    const key = "ab".repeat(32);
    expect(
      Buffer.from(readPredictConfig({ DATA_PATH: data, FEEDBACK_SIGNING_KEY: key }).signingKey).toString(
        "hex",
      ),
    ).toBe(key);
  });

  it("reads every setting and names the variable of a bad value", () => {
    const data = dataDir();
    const config = readPredictConfig({
      DATA_PATH: data,
      PREDICT_HOST: "127.0.0.1",
      PREDICT_PORT: "0",
      PREDICT_METRICS_PORT: "0",
      RETRAIN_ADDR: "retrain:8080",
      MODEL_CACHE_PATH: "/var/cache/predict",
      BUNDLED_MODEL_PATH: "models/v1",
      HEARTBEAT_TIMEOUT_MS: "5000",
      SHUTDOWN_GRACE_MS: "2000",
      VALIDATE_WITH_TFJS: "true",
      EXPLAIN_PREDICTIONS: "no",
    });
    expect(config).toMatchObject({
      host: "127.0.0.1",
      port: 0,
      metricsPort: 0,
      retrainAddr: "retrain:8080",
      modelCachePath: "/var/cache/predict",
      bundledModelPath: "models/v1",
      heartbeatTimeoutMs: 5_000,
      shutdownGraceMs: 2_000,
      validateWithTfjs: true,
      explainPredictions: false,
    });
    expect(() => readPredictConfig({ DATA_PATH: data, PREDICT_PORT: "80000" })).toThrow(
      "PREDICT_PORT=80000 is not valid: expected a whole number from 0 to 65535",
    );
    expect(() => readPredictConfig({ DATA_PATH: data, HEARTBEAT_TIMEOUT_MS: "soon" })).toThrow(
      "HEARTBEAT_TIMEOUT_MS=soon is not valid",
    );
    expect(() => readPredictConfig({ DATA_PATH: data, VALIDATE_WITH_TFJS: "maybe" })).toThrow(
      "VALIDATE_WITH_TFJS=maybe is not valid: expected true or false",
    );
    expect(() => readPredictConfig({ DATA_PATH: data, FEEDBACK_SIGNING_KEY: "abcd" })).toThrow(
      /FEEDBACK_SIGNING_KEY decodes to 2 bytes/,
    );
  });
});
