import { FEATURES, FEATURE_COUNT, GENDER_CODE } from "../shared/features/feature-schema.js";
import { transformRows } from "../shared/model/feature-pipeline.js";
import { toModelArtifacts } from "../shared/model/logistic-model.js";
import type { ModelMetrics as SharedModelMetrics } from "../shared/model/metrics.js";
import { type ArtifactFile, type LoadedModel, verifyArtifactFiles } from "../shared/model/model-artifact.js";
import { createScorer, type Scorer } from "../shared/model/scorer.js";
import { getTfBackend, type TfBackend } from "../shared/model/tf-backend.js";
import type { ModelMetrics } from "../gen/liver/v1/model.js";
import type { ModelSource } from "../gen/liver/v1/predict_service.js";
import { ModelLoadError, errorMessage } from "./model-load-error.js";
import type { ServingModel } from "./serving-model.js";

/** Number of probe rows scored at warm-up. */
export const PROBE_ROWS = 64;
/**
 * Largest |Δ| allowed at warm-up between the plain-JS scorer (float64) and the tfjs model
 * (float32) on the probes. The probes span the whole valid range, far beyond real patients,
 * where float32 rounding of large logits shows; the holdout parity test holds 1e-6.
 */
export const WARMUP_TOLERANCE = 1e-5;

/** What the loader is told about the version it loads. */
export interface LoadRequest {
  readonly files: readonly ArtifactFile[];
  /** SHA-256 the manifest must hash to; undefined for a bundled artifact (nothing announced it). */
  readonly expectedSha256: string | undefined;
  /** Version the artifact must declare; undefined to accept the manifest's. */
  readonly expectedVersion: string | undefined;
  readonly source: ModelSource;
}

/**
 * Probe vectors spread over every feature's valid range (a low-discrepancy sequence, both
 * genders, the corners included), the same on every replica and every run.
 */
export function probeVectors(rows = PROBE_ROWS): Float64Array {
  const out = new Float64Array(rows * FEATURE_COUNT);
  const golden = 0.618_033_988_749_895;
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const spec = FEATURES[i];
      if (spec === undefined) continue;
      const fraction = r === 0 ? 0 : r === 1 ? 1 : (r * golden + i * 0.377) % 1;
      out[r * FEATURE_COUNT + i] =
        spec.kind === "gender"
          ? r % 2 === 0
            ? GENDER_CODE.male
            : GENDER_CODE.female
          : spec.min + (spec.max - spec.min) * fraction;
    }
  }
  return out;
}

/** The shared metrics as the contract's ModelMetrics. */
export function toProtoMetrics(metrics: SharedModelMetrics): ModelMetrics {
  const h = metrics.holdout;
  return {
    rocAuc: h.rocAuc,
    accuracy: h.accuracy,
    logLoss: h.logLoss,
    brierScore: h.brier,
    threshold: h.threshold,
    confusionMatrix: {
      truePositives: h.confusion.truePositives,
      falsePositives: h.confusion.falsePositives,
      trueNegatives: h.confusion.trueNegatives,
      falseNegatives: h.confusion.falseNegatives,
    },
    holdoutRows: h.rows,
  };
}

/**
 * Turns artifact files into a ServingModel, or throws ModelLoadError naming the stage:
 * "verify" (manifest sha256, every file's size and sha256, JSON, weights, pipeline order,
 * version, threshold) then "warmup" (the scorer runs on the probes, every probability is in
 * [0, 1], and it agrees with the artifact's own tfjs model, evaluated on the process's tfjs
 * backend). Only a model that passes both is ever swapped in.
 */
export class ModelLoader {
  constructor(private readonly backend: () => Promise<TfBackend> = () => getTfBackend()) {}

  async load(request: LoadRequest): Promise<ServingModel> {
    const loaded = this.verify(request);
    const threshold = loaded.metrics.holdout.threshold;
    const scorer = createScorer(loaded.pipeline, loaded.weights);
    const backend = await this.warmUp(loaded, scorer);
    return {
      version: loaded.manifest.version,
      sha256: loaded.manifestSha256,
      threshold,
      metrics: toProtoMetrics(loaded.metrics),
      trainedOnSyntheticData: loaded.manifest.dataSource === "synthetic",
      source: request.source,
      loadedAt: new Date(),
      backend,
      score: (vectors, offset) => scorer.score(vectors, offset),
    };
  }

  private verify(request: LoadRequest): LoadedModel {
    let loaded: LoadedModel;
    try {
      loaded = verifyArtifactFiles(request.files, request.expectedSha256);
    } catch (error) {
      throw new ModelLoadError("verify", `artifact refused: ${errorMessage(error)}`);
    }
    const declared = loaded.manifest.version;
    if (request.expectedVersion !== undefined && declared !== request.expectedVersion) {
      throw new ModelLoadError(
        "verify",
        `artifact refused: its manifest names version ${declared}, not ${request.expectedVersion}`,
      );
    }
    const threshold = loaded.metrics.holdout.threshold;
    if (!(threshold > 0 && threshold < 1)) {
      throw new ModelLoadError(
        "verify",
        `artifact refused: metrics.json threshold is ${threshold}; valid range is 0 to 1 (exclusive)`,
      );
    }
    return loaded;
  }

  private async warmUp(loaded: LoadedModel, scorer: Scorer): Promise<string> {
    const probes = probeVectors();
    const scores = new Float64Array(PROBE_ROWS);
    scorer.scoreBatch(probes, PROBE_ROWS, scores);
    for (let r = 0; r < PROBE_ROWS; r++) {
      const p = scores[r] ?? Number.NaN;
      if (!(p >= 0 && p <= 1)) {
        throw new ModelLoadError(
          "warmup",
          `warm-up refused the model: probe ${r} scored ${p}, not in [0, 1]`,
        );
      }
    }
    let backend: TfBackend;
    let expected: Float32Array;
    try {
      backend = await this.backend();
      expected = await evaluateWithTf(backend, loaded, probes);
    } catch (error) {
      throw new ModelLoadError("warmup", `warm-up could not run the tfjs model: ${errorMessage(error)}`);
    }
    for (let r = 0; r < PROBE_ROWS; r++) {
      const delta = Math.abs((scores[r] ?? Number.NaN) - (expected[r] ?? Number.NaN));
      if (!(delta <= WARMUP_TOLERANCE)) {
        throw new ModelLoadError(
          "warmup",
          `warm-up refused the model: on probe ${r} the serving scorer gives ${scores[r]} and the artifact's tfjs model ${expected[r]} (|Δ| ${delta} > ${WARMUP_TOLERANCE})`,
        );
      }
    }
    return backend.name;
  }
}

/** The artifact's tfjs model on the probes, through the artifact's pipeline; frees every tensor. */
async function evaluateWithTf(
  backend: TfBackend,
  loaded: LoadedModel,
  probes: Float64Array,
): Promise<Float32Array> {
  const { tf } = backend;
  const rows = probes.length / FEATURE_COUNT;
  const standardized = new Float32Array(probes.length);
  transformRows(loaded.pipeline, { rows, features: probes }, standardized);
  // Plain copies: files that arrive over gRPC are Node Buffers, often views into a larger
  // pooled ArrayBuffer, and Buffer#slice does not copy, so tfjs would read the whole pool.
  const files = {
    modelJson: Uint8Array.from(loaded.model.modelJson),
    weightsBin: Uint8Array.from(loaded.model.weightsBin),
  };
  const model = await tf.loadLayersModel(tf.io.fromMemory(toModelArtifacts(files)));
  try {
    const output = tf.tidy(() => {
      const prediction = model.predict(tf.tensor2d(standardized, [rows, FEATURE_COUNT]));
      if (Array.isArray(prediction)) throw new Error("the model has several outputs; expected one");
      return prediction;
    });
    const values = (await output.data()) as Float32Array;
    output.dispose();
    return values;
  } finally {
    model.dispose();
  }
}
