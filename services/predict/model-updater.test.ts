import { HoldoutScheme } from "../gen/liver/v1/model.js";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ModelSource } from "../gen/liver/v1/predict_service.js";
import { ModelVersionEventKind, type WatchModelVersionsResponse } from "../gen/liver/v1/retrain_service.js";
import { ModelHolder } from "./model-holder.js";
import { ModelLoadError } from "./model-load-error.js";
import { type LoadedArtifact, ModelUpdater, type VersionTarget } from "./model-updater.js";
import { PredictMetrics } from "./predict-metrics.js";
import type { ServingModel } from "./serving-model.js";

function model(version: string, source = ModelSource.MODEL_SOURCE_RETRAIN_SERVICE): ServingModel {
  return {
    version,
    sha256: `${version}-sha`,
    threshold: 0.5,
    metrics: {
      rocAuc: 0.7,
      accuracy: 0.7,
      logLoss: 0.5,
      brierScore: 0.2,
      threshold: 0.5,
      confusionMatrix: undefined,
      holdoutRows: 1,
      holdoutScheme: "lab-profile-v1",
      holdoutSchemeKind: HoldoutScheme.HOLDOUT_SCHEME_LAB_PROFILE_V1,
      holdoutFingerprint: "",
      calibration: undefined,
    },
    trainedOnSyntheticData: false,
    source,
    loadedAt: new Date(),
    backend: "cpu",
    inputProfile: undefined,
    score: () => 0.5,
    explain: () => 0,
  };
}

function event(kind: ModelVersionEventKind, version: string): WatchModelVersionsResponse {
  return {
    kind,
    modelVersion: version,
    sha256: `${version}-sha`,
    metrics: undefined,
    sentAt: new Date(),
    heartbeatIntervalMs: 10_000,
    trainedOnSyntheticData: false,
    pendingVersion: "",
    traceparent: "",
  };
}

const PROMOTED = ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_PROMOTED;
const HEARTBEAT = ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_HEARTBEAT;
const CURRENT = ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_CURRENT;

/** An updater whose fetches wait until the test releases them. */
function harness(fail: (target: VersionTarget) => ModelLoadError | undefined = () => undefined) {
  const holder = new ModelHolder();
  const fetched: string[] = [];
  const pending: (() => void)[] = [];
  const updater = new ModelUpdater({
    holder,
    metrics: new PredictMetrics({ defaultMetrics: false }),
    logger: pino({ level: "silent" }),
    fetchVersion: (target) => {
      fetched.push(target.version);
      return new Promise<LoadedArtifact>((resolve, reject) => {
        pending.push(() => {
          const error = fail(target);
          if (error === undefined) resolve({ model: model(target.version), files: [] });
          else reject(error);
        });
      });
    },
    fallbacks: [],
  });
  const releaseAll = async (): Promise<void> => {
    while (pending.length > 0) {
      for (const release of pending.splice(0)) release();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await updater.idle();
  };
  return { holder, fetched, updater, releaseAll };
}

describe("ModelUpdater", () => {
  it("loads one version at a time and jumps to the latest announced meanwhile", async () => {
    const { holder, fetched, updater, releaseAll } = harness();
    updater.onEvent(event(CURRENT, "v1"));
    updater.onEvent(event(PROMOTED, "v2"));
    updater.onEvent(event(PROMOTED, "v3"));
    await releaseAll();
    expect(fetched).toEqual(["v1", "v3"]);
    expect(holder.current?.version).toBe("v3");
  });

  it("ignores events naming what already serves", async () => {
    const { fetched, updater, releaseAll } = harness();
    updater.onEvent(event(CURRENT, "v1"));
    await releaseAll();
    updater.onEvent(event(HEARTBEAT, "v1"));
    updater.onEvent(event(CURRENT, "v1"));
    await releaseAll();
    expect(fetched).toEqual(["v1"]);
  });

  it("keeps the old model on failure; retries transport failures on heartbeats, refused bytes only on real events", async () => {
    let flaky = true;
    const { holder, fetched, updater, releaseAll } = harness((target) => {
      if (target.version === "v2") return new ModelLoadError("verify", "weights.bin was altered");
      if (target.version === "v3" && flaky) return new ModelLoadError("fetch", "UNAVAILABLE", true);
      return undefined;
    });
    updater.onEvent(event(CURRENT, "v1"));
    await releaseAll();
    updater.onEvent(event(PROMOTED, "v2"));
    await releaseAll();
    expect(holder.current?.version).toBe("v1");
    expect(holder.lastFailure).toMatchObject({ version: "v2", reason: "weights.bin was altered" });
    updater.onEvent(event(HEARTBEAT, "v2"));
    await releaseAll();
    expect(fetched).toEqual(["v1", "v2"]);
    updater.onEvent(event(CURRENT, "v2")); // a reconnect names it again: one more try
    await releaseAll();
    expect(fetched).toEqual(["v1", "v2", "v2"]);

    updater.onEvent(event(PROMOTED, "v3"));
    await releaseAll();
    expect(holder.lastFailure).toMatchObject({ version: "v3", reason: "UNAVAILABLE" });
    flaky = false;
    updater.onEvent(event(HEARTBEAT, "v3"));
    await releaseAll();
    expect(holder.current?.version).toBe("v3");
  });

  it("serves a fallback only while nothing serves", async () => {
    const holder = new ModelHolder();
    const updater = new ModelUpdater({
      holder,
      metrics: new PredictMetrics({ defaultMetrics: false }),
      logger: pino({ level: "silent" }),
      fetchVersion: () => Promise.reject(new Error("unused")),
      fallbacks: [
        { name: "empty cache", load: () => Promise.resolve(undefined) },
        { name: "bundle", load: () => Promise.resolve(model("v9", ModelSource.MODEL_SOURCE_BUNDLED)) },
      ],
    });
    await updater.loadFallback("Retrain down");
    expect(holder.current?.source).toBe(ModelSource.MODEL_SOURCE_BUNDLED);
    holder.swap(model("v10"));
    await updater.loadFallback("again");
    expect(holder.current?.version).toBe("v10");
  });
});
