import type { ModelMetrics } from "../gen/liver/v1/model.js";
import { ModelSource } from "../gen/liver/v1/predict_service.js";
import type { InputProfile } from "../shared/model/input-profile.js";

/**
 * One verified, warmed-up model version as a replica serves it. Immutable: a swap replaces
 * the whole object, so a request that read it once is answered entirely by one version.
 */
export interface ServingModel {
  /** Version name, e.g. "v3". */
  readonly version: string;
  /** SHA-256 (hex) of the artifact's manifest. */
  readonly sha256: string;
  /** Probability at or above which the diagnosis is liver disease. */
  readonly threshold: number;
  /** Holdout metrics from the artifact. */
  readonly metrics: ModelMetrics;
  readonly trainedOnSyntheticData: boolean;
  readonly source: ModelSource;
  readonly loadedAt: Date;
  /**
   * TensorFlow.js backend behind the model's numbers: the one the warm-up's tfjs cross-check
   * ran on (VALIDATE_WITH_TFJS), else the one that evaluated its holdout metrics at training
   * (the manifest's), whose evaluation the warm-up's reference check reproduces.
   */
  readonly backend: string;
  /** The training data's input distribution (pipeline.json); undefined for older artifacts. */
  readonly inputProfile: InputProfile | undefined;
  /**
   * The raw-scale bounds the model reads each feature within (schema order; infinite where
   * it reads the value as given), so an explanation can say what a clipped value counted as.
   * Omitted (test doubles): every value is read as given.
   */
  readonly clip?: ValueClip;
  /** Probability of liver disease for the raw schema vector at `offset` of `vectors`. */
  score(vectors: Float64Array, offset: number): number;
  /**
   * The exact explanation of the same vector (Scorer.explain): each feature's contribution to
   * the answered log-odds into `contributions` (schema order); returns the reference
   * log-odds. Reference plus contributions is the logit of `score`.
   */
  explain(vectors: Float64Array, offset: number, contributions: Float64Array): number;
  /**
   * The same version as `site` is served: that site's calibration, or the base model for a
   * site without one. Built once per version, so the per-call lookup is one Map.get. Omitted
   * (test doubles): every site is answered as this one.
   */
  atSite?(site: string): ServingModel;
}

/** Per-feature raw-scale bounds, schema order; ±Infinity where a feature is not clipped. */
export interface ValueClip {
  readonly lower: Float64Array;
  readonly upper: Float64Array;
}

/** Human name of a source, for logs. */
export function describeSource(source: ModelSource): string {
  switch (source) {
    case ModelSource.MODEL_SOURCE_RETRAIN_SERVICE:
      return "RetrainService";
    case ModelSource.MODEL_SOURCE_LOCAL_CACHE:
      return "local cache";
    case ModelSource.MODEL_SOURCE_BUNDLED:
      return "bundled artifact";
    default:
      return "unknown";
  }
}
