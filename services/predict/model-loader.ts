import { holdoutSchemeKind } from "../shared/grpc/contract-vocabulary.js";
import { FEATURES, FEATURE_COUNT, GENDER_CODE } from "../shared/features/feature-schema.js";
import { servedScorer, servedSites, type ServedModel } from "../shared/model/served-answer.js";
import { DEFAULT_SITE } from "../shared/sites/site-name.js";
import { clipBounds, transformRows } from "../shared/model/feature-pipeline.js";
import { calibrationMessage, type ModelMetrics as SharedModelMetrics } from "../shared/model/metrics.js";
import { LEGACY_HOLDOUT_SCHEME } from "../shared/model/holdout-split.js";
import {
  type ArtifactFile,
  type ArtifactManifest,
  type LoadedModel,
  verifyArtifactFiles,
} from "../shared/model/model-artifact.js";
import { calibrateLogit } from "../shared/model/output-calibration.js";
import { createScorer, sigmoid, type Scorer } from "../shared/model/scorer.js";
import type { ModelMetrics } from "../gen/liver/v1/model.js";
import type { ModelSource } from "../gen/liver/v1/predict_service.js";
import { ModelLoadError, errorMessage } from "./model-load-error.js";
import type { ServingModel } from "./serving-model.js";

/** Number of probe rows scored at warm-up. */
export const PROBE_ROWS = 64;
/**
 * Largest |Δ| allowed at warm-up between the serving scorer (z-score folded into the weights)
 * and the reference (the training pipeline's transform, then the Dense layer's formula), both
 * float64: only rounding may differ.
 */
export const REFERENCE_TOLERANCE = 1e-9;
/**
 * Largest |Δ| allowed between the serving scorer (float64) and the artifact's tfjs model
 * (float32) on the probes. The probes span the whole valid range, far beyond real patients,
 * where float32 rounding of large logits shows; the holdout parity test holds 1e-6.
 */
export const TFJS_TOLERANCE = 1e-5;

/** Evaluates the artifact's tfjs model on probes (see tfjs-cross-check.ts). */
export type TfjsEvaluator = (
  loaded: LoadedModel,
  probes: Float64Array,
) => Promise<{ readonly backend: string; readonly probabilities: Float32Array }>;

/** The tfjs cross-check, imported on first use only. */
export const lazyTfjsEvaluator: TfjsEvaluator = async (loaded, probes) =>
  (await import("./tfjs-cross-check.js")).evaluateWithTfjs(loaded, probes);

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
export function toProtoMetrics(metrics: SharedModelMetrics, manifest: ArtifactManifest): ModelMetrics {
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
    holdoutScheme: manifest.holdoutScheme ?? LEGACY_HOLDOUT_SCHEME,
    holdoutSchemeKind: holdoutSchemeKind(manifest.holdoutScheme ?? LEGACY_HOLDOUT_SCHEME),
    holdoutFingerprint: manifest.holdoutFingerprint,
    calibration: calibrationMessage(h.calibration),
  };
}

/**
 * Turns artifact files into a ServingModel, or throws ModelLoadError naming the stage:
 * "verify" (manifest sha256, every file's size and sha256, JSON, weights, pipeline order,
 * version, threshold) then "warmup" (the serving scorer runs on probes spanning every valid
 * range, every probability is in [0, 1] and equals the training pipeline's own computation,
 * and, when enabled, the artifact's tfjs model agrees). Only a model that passes both is
 * ever swapped in.
 */
export class ModelLoader {
  /**
   * `tfjs`: also cross-check against the artifact's tfjs model (VALIDATE_WITH_TFJS); without
   * it the reported backend is the one that evaluated the model's metrics at training.
   */
  constructor(private readonly tfjs?: TfjsEvaluator) {}

  async load(request: LoadRequest): Promise<ServingModel> {
    const loaded = this.verify(request);
    const threshold = loaded.metrics.holdout.threshold;
    const scorer = createScorer(loaded.pipeline, loaded.weights, loaded.calibration);
    const backend = await this.warmUp(loaded, scorer);
    const common = {
      version: loaded.manifest.version,
      sha256: loaded.manifestSha256,
      threshold,
      metrics: toProtoMetrics(loaded.metrics, loaded.manifest),
      trainedOnSyntheticData: loaded.manifest.dataSource === "synthetic",
      source: request.source,
      loadedAt: new Date(),
      backend,
      inputProfile: loaded.pipeline.inputProfile,
      clip: {
        lower: Float64Array.from(loaded.pipeline.features, (transform) => clipBounds(transform)[0]),
        upper: Float64Array.from(loaded.pipeline.features, (transform) => clipBounds(transform)[1]),
      },
    };
    // One view per site with a calibration of its own, one uncalibrated view for all other
    // sites, and the default site's (calibration.json) as the model itself.
    const served: ServedModel = {
      pipeline: loaded.pipeline,
      weights: loaded.weights,
      calibrations: loaded.siteCalibrations,
      threshold,
    };
    const views = new Map<string, ServingModel>();
    const view = (site: string, siteScorer: Scorer): ServingModel => ({
      ...common,
      score: (vectors, offset) => siteScorer.score(vectors, offset),
      explain: (vectors, offset, contributions) => siteScorer.explain(vectors, offset, contributions),
      atSite: (other) => views.get(other) ?? uncalibrated,
    });
    const defaultView = view(DEFAULT_SITE, scorer);
    const uncalibrated = view("", servedScorer(served, ""));
    views.set(DEFAULT_SITE, defaultView);
    for (const site of servedSites(loaded.siteCalibrations)) {
      if (site !== DEFAULT_SITE) views.set(site, view(site, servedScorer(served, site)));
    }
    return defaultView;
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
    const reference = referenceProbabilities(loaded, probes);
    for (let r = 0; r < PROBE_ROWS; r++) {
      const p = scores[r] ?? Number.NaN;
      if (!(p >= 0 && p <= 1)) {
        throw new ModelLoadError(
          "warmup",
          `warm-up refused the model: probe ${r} scored ${p}, not in [0, 1]`,
        );
      }
      const delta = Math.abs(p - (reference[r] ?? Number.NaN));
      if (!(delta <= REFERENCE_TOLERANCE)) {
        throw new ModelLoadError(
          "warmup",
          `warm-up refused the model: on probe ${r} the serving scorer gives ${p} and the pipeline's reference ${reference[r]} (|Δ| ${delta} > ${REFERENCE_TOLERANCE})`,
        );
      }
    }
    if (this.tfjs === undefined) return loaded.manifest.tfBackend;
    let evaluation: Awaited<ReturnType<TfjsEvaluator>>;
    try {
      evaluation = await this.tfjs(loaded, probes);
    } catch (error) {
      throw new ModelLoadError("warmup", `warm-up could not run the tfjs model: ${errorMessage(error)}`);
    }
    // The tfjs model is the base model: compare it with the scorer before recalibration.
    const baseScores = new Float64Array(PROBE_ROWS);
    createScorer(loaded.pipeline, loaded.weights).scoreBatch(probes, PROBE_ROWS, baseScores);
    for (let r = 0; r < PROBE_ROWS; r++) {
      const expected = evaluation.probabilities[r] ?? Number.NaN;
      const delta = Math.abs((baseScores[r] ?? Number.NaN) - expected);
      if (!(delta <= TFJS_TOLERANCE)) {
        throw new ModelLoadError(
          "warmup",
          `warm-up refused the model: on probe ${r} the serving scorer gives ${scores[r]} and the artifact's tfjs model ${expected} (|Δ| ${delta} > ${TFJS_TOLERANCE})`,
        );
      }
    }
    return evaluation.backend;
  }
}

/**
 * The model's probabilities computed the way training evaluates it, without the serving
 * scorer's algebra: the shared pipeline's transform, then sigmoid(kernel · z + bias), then
 * the artifact's site recalibration.
 */
export function referenceProbabilities(loaded: LoadedModel, probes: Float64Array): Float64Array {
  const rows = probes.length / FEATURE_COUNT;
  const standardized = new Float64Array(probes.length);
  transformRows(loaded.pipeline, { rows, features: probes }, standardized);
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let z = loaded.weights.bias;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      z += (loaded.weights.kernel[i] ?? Number.NaN) * (standardized[r * FEATURE_COUNT + i] ?? Number.NaN);
    }
    out[r] = sigmoid(calibrateLogit(loaded.calibration, z));
  }
  return out;
}
