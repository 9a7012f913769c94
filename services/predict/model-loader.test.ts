import { beforeAll, describe, expect, it } from "vitest";
import { ModelSource } from "../gen/liver/v1/predict_service.js";
import { FEATURE_COUNT } from "../shared/features/feature-schema.js";
import { ModelLoadError } from "./model-load-error.js";
import { verifyArtifactFiles } from "../shared/model/model-artifact.js";
import {
  ModelLoader,
  PROBE_ROWS,
  lazyTfjsEvaluator,
  probeVectors,
  referenceProbabilities,
} from "./model-loader.js";
import { trainTestArtifact, withFlippedByte, type TestArtifact } from "./testing/test-artifacts.js";

let v1: TestArtifact;
const loader = new ModelLoader();

beforeAll(async () => {
  v1 = await trainTestArtifact("v1", 11);
});

function request(artifact: TestArtifact, overrides: { sha?: string; version?: string } = {}) {
  return {
    files: artifact.files,
    expectedSha256: overrides.sha ?? artifact.sha256,
    expectedVersion: overrides.version ?? artifact.version,
    source: ModelSource.MODEL_SOURCE_RETRAIN_SERVICE,
  };
}

async function refusal(promise: Promise<unknown>): Promise<ModelLoadError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ModelLoadError) return error;
    throw error;
  }
  throw new Error("the artifact was accepted");
}

describe("ModelLoader", () => {
  it("loads a verified artifact whose scorer matches the training-time evaluation on every holdout row", async () => {
    const model = await loader.load(request(v1));
    expect(model.version).toBe("v1");
    expect(model.sha256).toBe(v1.sha256);
    expect(model.trainedOnSyntheticData).toBe(true);
    expect(model.threshold).toBe(0.5);
    expect(model.metrics.rocAuc).toBe(v1.training.metrics.holdout.rocAuc);
    expect(model.metrics.holdoutRows).toBe(v1.training.holdout.rows);
    // Without the tfjs check, the backend is the one that evaluated the metrics at training.
    expect(model.backend).toBe(v1.training.backend);
    const { holdout, holdoutProbabilities } = v1.training;
    let worst = 0;
    for (let row = 0; row < holdout.rows; row++) {
      const delta = Math.abs(
        model.score(holdout.features, row * FEATURE_COUNT) - (holdoutProbabilities[row] ?? 0),
      );
      worst = Math.max(worst, delta);
    }
    expect(holdout.rows).toBeGreaterThan(100);
    expect(worst).toBeLessThanOrEqual(1e-6);
  });

  it("refuses a file whose bytes differ from the manifest, naming the file", async () => {
    const error = await refusal(loader.load(request(withFlippedByte(v1, "weights.bin"))));
    expect(error.stage).toBe("verify");
    expect(error.message).toMatch(/weights\.bin does not match its sha256/);
  });

  it("refuses a manifest that is not the one announced", async () => {
    const error = await refusal(loader.load(request(v1, { sha: "0".repeat(64) })));
    expect(error.stage).toBe("verify");
    expect(error.message).toMatch(/manifest\.json has sha256 .* expected 0{64}/);
  });

  it("refuses an artifact that declares another version", async () => {
    const error = await refusal(loader.load(request(v1, { version: "v2" })));
    expect(error.message).toBe("artifact refused: its manifest names version v1, not v2");
  });

  it("refuses a truncated artifact", async () => {
    const truncated = { ...v1, files: v1.files.filter((f) => f.name !== "pipeline.json") };
    const error = await refusal(loader.load(request(truncated)));
    expect(error.message).toMatch(/pipeline\.json is missing/);
  });

  it("with VALIDATE_WITH_TFJS, cross-checks against the artifact's tfjs model and reports its backend", async () => {
    const model = await new ModelLoader(lazyTfjsEvaluator).load(request(v1));
    expect(["tensorflow", "wasm", "cpu"]).toContain(model.backend);
  });

  it("refuses at warm-up when the tfjs model cannot be evaluated", async () => {
    const broken = new ModelLoader(() => Promise.reject(new Error("no backend on this machine")));
    const error = await refusal(broken.load(request(v1)));
    expect(error.stage).toBe("warmup");
    expect(error.message).toBe("warm-up could not run the tfjs model: no backend on this machine");
  });

  it("refuses at warm-up when the tfjs model disagrees with the serving scorer", async () => {
    const disagreeing = new ModelLoader(async (loaded, probes) => {
      const { probabilities, backend } = await lazyTfjsEvaluator(loaded, probes);
      probabilities[5] = (probabilities[5] ?? 0) + 0.01;
      return { probabilities, backend };
    });
    const error = await refusal(disagreeing.load(request(v1)));
    expect(error.stage).toBe("warmup");
    expect(error.message).toMatch(
      /^warm-up refused the model: on probe 5 the serving scorer gives .* and the artifact's tfjs model .* > 0\.00001\)$/,
    );
  });

  it("computes its reference like tfjs does: the pipeline's transform, then the Dense layer", async () => {
    const loaded = verifyArtifactFiles(v1.files, v1.sha256);
    const probes = probeVectors();
    const reference = referenceProbabilities(loaded, probes);
    const tfjs = await lazyTfjsEvaluator(loaded, probes);
    for (let r = 0; r < PROBE_ROWS; r++) {
      expect(Math.abs((reference[r] ?? 0) - (tfjs.probabilities[r] ?? 1))).toBeLessThanOrEqual(1e-5);
    }
    // The probes reach both ends of the scale, not only the middle.
    expect(Math.min(...reference)).toBeLessThan(0.5);
    expect(Math.max(...reference)).toBeGreaterThan(0.5);
  });

  it("probes span every feature's valid range, corners included", () => {
    const probes = probeVectors();
    expect(probes.length).toBe(PROBE_ROWS * FEATURE_COUNT);
    expect(Array.from(probes.subarray(0, FEATURE_COUNT))).toEqual([0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(probes.subarray(FEATURE_COUNT, 2 * FEATURE_COUNT))).toEqual([
      120, 0, 100, 50, 5000, 10000, 10000, 15, 10, 10,
    ]);
  });
});
