import pino from "pino";
import { describe, expect, it } from "vitest";
import { generateSyntheticDataset } from "../shared/data/synthetic-dataset.js";
import { runTrainingPipeline } from "../shared/model/training-pipeline.js";
import { remeasureServingVersion } from "./holdout-remeasure.js";
import { tempDir } from "./testing/retrain-fixtures.js";
import { useTempStore } from "./testing/temp-store.js";
import { ModelRegistry } from "./store/model-registry.js";
import { SampleStore } from "./store/sample-store.js";

const silent = pino({ level: "silent" });

describe("remeasureServingVersion (migration to the lab-profile holdout)", () => {
  const database = useTempStore();

  it("re-scores a serving version measured on the row-level split and says which holdout the figures are from", async () => {
    const db = database();
    const tmp = tempDir();
    try {
      const original = generateSyntheticDataset(2_000, 11);
      new SampleStore(db).importDataset(original, "test rows");
      const trained = await runTrainingPipeline({
        original,
        artifact: { version: "v1", parentDir: tmp.dir },
      });
      const registry = new ModelRegistry(db);
      const stale = { ...trained.metrics.holdout, rocAuc: 0.99 };
      registry.add(
        {
          seq: 1,
          modelVersion: "v1",
          metrics: stale,
          originalRows: 1_600,
          feedbackRows: 0,
          holdoutRows: stale.rows,
          parentVersion: undefined,
          reason: "an old store",
          createdAtMs: 1,
          sha256: trained.artifact?.manifestSha256 ?? "",
          synthetic: true,
          runId: "old",
          holdoutScheme: "row-v1",
          holdoutFingerprint: "",
          gateChecks: [],
          calibration: undefined,
        },
        true,
      );
      const samples = new SampleStore(db);
      expect(await remeasureServingVersion(registry, samples, tmp.dir, silent)).toBe(true);
      const after = registry.get("v1");
      expect(after?.holdoutScheme).toBe("lab-profile-v1");
      expect(after?.holdoutFingerprint).toBe(trained.split.holdoutFingerprint);
      expect(after?.metrics.rocAuc).toBeCloseTo(trained.metrics.holdout.rocAuc, 4);
      expect(after?.status).toBe("serving");
      // Once measured on the current holdout, a restart changes nothing.
      expect(await remeasureServingVersion(registry, samples, tmp.dir, silent)).toBe(false);
    } finally {
      tmp.remove();
    }
  });
});
