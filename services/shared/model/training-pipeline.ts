/**
 * The one training pipeline, shared by the train CLI, the Retrain worker and the benchmark:
 * split (dedup + frozen holdout) -> fit the feature pipeline -> train -> evaluate on the
 * holdout with tfjs -> build (and optionally write) the artifact. Feedback rows only ever
 * join the training side. All tfjs work happens in here, so a worker thread can run it
 * with nothing but plain data going in and out.
 */
import { clinicalDirection } from "../features/clinical-reference.js";
import { FEATURE_COUNT, FEATURES } from "../features/feature-schema.js";
import { allocateDataset, type Dataset } from "../data/dataset.js";
import {
  fitFeaturePipeline,
  transformToFloat32,
  type FeatureEncoding,
  type PipelineParams,
} from "./feature-pipeline.js";
import {
  excludeHoldoutProfiles,
  hashLabProfile,
  splitHoldout,
  type HoldoutSplitReport,
} from "./holdout-split.js";
import { buildLayersModel, saveModelFiles } from "./logistic-model.js";
import { DEFAULT_THRESHOLD, evaluateBinary, type ModelMetrics } from "./metrics.js";
import {
  buildArtifactFiles,
  manifestSha256,
  writeArtifact,
  type ArtifactFile,
  type ArtifactRowCounts,
} from "./model-artifact.js";
import type { CalibrationRecord } from "./output-calibration.js";
import { createScorer } from "./scorer.js";
import { fitSiteRecalibration } from "./site-recalibration.js";
import type { SiteCalibrationsFile } from "./served-answer.js";
import { fitSiteCalibration, type SiteCalibration } from "./site-calibration.js";
import { getTfBackend, type SkippedBackend, type TfBackend, type TfBackendName } from "./tf-backend.js";
import {
  trainLogisticRegression,
  type LogisticWeights,
  type SignConstraint,
  type TrainerOptions,
  type TrainingProgress,
} from "./trainer.js";

/** What to train on and what to produce. */
export interface TrainingPipelineOptions {
  /** The original data (real CSV or synthetic default); the holdout is cut from it. */
  readonly original: Dataset;
  /** Labelled feedback rows: training side only; rows with a holdout lab profile are dropped. */
  readonly feedback?: Dataset | undefined;
  /**
   * Labelled feedback to fit the site recalibration on (site-recalibration.ts); the artifact
   * then carries calibration.json. Omitted: no recalibration, no file.
   */
  readonly recalibrateOn?: Dataset | undefined;
  /** Distinct sources among `recalibrateOn`'s rows (the recalibration needs several); omitted: not checked. */
  readonly recalibrationSources?: number | undefined;
  /**
   * Each non-default site's labelled feedback: its calibration is chosen by the closed test
   * (site-calibration.ts) and written to site-calibrations.json. Omitted: no such file.
   */
  readonly siteFeedback?: readonly SiteRows[] | undefined;
  /** Share of each class's unique original rows held out. Default 0.2. */
  readonly holdoutFraction?: number | undefined;
  /** Decision threshold for accuracy and the confusion matrix. Default 0.5. */
  readonly threshold?: number | undefined;
  /**
   * Trainer settings. `signs` defaults to CLINICAL_SIGNS (each feature with a clinical
   * direction never contributes against it); pass all zeros for an unconstrained fit.
   */
  readonly trainer?: Pick<TrainerOptions, "l1" | "maxIterations" | "tolerance" | "signs"> | undefined;
  /**
   * How raw values are encoded (feature-pipeline.ts). Default "clinical": each lab clipped at
   * its clinical bounds; "plain" reproduces the encoding before it, for comparison.
   */
  readonly encoding?: FeatureEncoding | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((progress: TrainingProgress) => void) | undefined;
  /** Build the artifact files as `version`; with `parentDir`, also write them there atomically. */
  readonly artifact?:
    | {
        readonly version: string;
        readonly parentDir?: string | undefined;
        readonly createdAt?: Date | undefined;
      }
    | undefined;
  /** The tfjs backend; default getTfBackend(). */
  readonly backend?: TfBackend | undefined;
}

/** One site's labelled feedback rows and how many distinct sources sent them. */
export interface SiteRows {
  readonly site: string;
  readonly rows: Dataset;
  readonly sources: number;
}

/** Wall time of each stage in milliseconds. */
export interface StageTimings {
  readonly split: number;
  readonly fitPipeline: number;
  readonly train: number;
  readonly evaluate: number;
  /** Saving the tfjs model files and hashing them (0 without an artifact). */
  readonly buildArtifact: number;
  /** Writing and fsyncing the folder (0 unless parentDir was given). */
  readonly writeArtifact: number;
  readonly total: number;
}

/** The artifact built by a run. */
export interface PipelineArtifact {
  readonly version: string;
  readonly files: ArtifactFile[];
  readonly manifestSha256: string;
  /** The version's folder, when written. */
  readonly dir?: string | undefined;
}

/** Everything a caller reports, gates on, or publishes. */
export interface TrainingPipelineResult {
  readonly metrics: ModelMetrics;
  readonly rowCounts: ArtifactRowCounts;
  readonly timingsMs: StageTimings;
  readonly backend: TfBackendName;
  readonly skippedBackends: readonly SkippedBackend[];
  readonly split: HoldoutSplitReport;
  readonly pipeline: PipelineParams;
  /** The weights as saved in the tfjs model (float32 values). */
  readonly weights: LogisticWeights;
  readonly holdout: Dataset;
  /** tfjs model.predict on the standardized holdout, row for row: the training-time evaluation. */
  readonly holdoutProbabilities: Float32Array;
  /** The site recalibration fitted on `recalibrateOn`, when given. */
  readonly calibration?: CalibrationRecord | undefined;
  /** The non-default sites' calibrations, when `siteFeedback` was given. */
  readonly siteCalibrations?: SiteCalibrationsFile | undefined;
  readonly artifact?: PipelineArtifact | undefined;
}

/**
 * The sign each weight is held to, in schema order: +1 for bilirubin (total and direct),
 * ALP, ALT, AST and total proteins (the globulin rise at fixed albumin), -1 for albumin and
 * the A/G ratio, free for age and gender (clinical-reference.ts says why).
 */
export const CLINICAL_SIGNS: readonly SignConstraint[] = FEATURES.map(
  (spec) => clinicalDirection(spec.name) ?? 0,
);

function concatDatasets(a: Dataset, b: Dataset): Dataset {
  if (b.rows === 0) return a;
  const out = allocateDataset(a.rows + b.rows, a.source);
  out.features.set(a.features.subarray(0, a.rows * FEATURE_COUNT));
  out.features.set(b.features.subarray(0, b.rows * FEATURE_COUNT), a.rows * FEATURE_COUNT);
  out.labels.set(a.labels.subarray(0, a.rows));
  out.labels.set(b.labels.subarray(0, b.rows), a.rows);
  return out;
}

function countPositives(dataset: Dataset): number {
  let positives = 0;
  for (let row = 0; row < dataset.rows; row++) positives += dataset.labels[row] === 1 ? 1 : 0;
  return positives;
}

/** Share of feedback rows (by lab profile) held out to check the recalibration: 1 in 4. */
const CALIBRATION_CHECK_MODULUS = 4;

/**
 * Fits the site recalibration on the base model's log-odds of `feedback`. Rows are held out
 * for the check by a hash of their lab profile, so repeats of one patient stay on one side.
 */
function recalibrate(
  pipeline: PipelineParams,
  weights: LogisticWeights,
  feedback: Dataset,
  sources: number | undefined,
): CalibrationRecord {
  const scorer = createScorer(pipeline, weights);
  const logits = new Float64Array(feedback.rows);
  const heldOut = new Uint8Array(feedback.rows);
  for (let row = 0; row < feedback.rows; row++) {
    const p = scorer.score(feedback.features, row * FEATURE_COUNT);
    logits[row] = Math.log(p) - Math.log1p(-p);
    heldOut[row] =
      hashLabProfile(feedback.features, row * FEATURE_COUNT) % CALIBRATION_CHECK_MODULUS === 0 ? 1 : 0;
  }
  return fitSiteRecalibration({
    logits,
    labels: feedback.labels.subarray(0, feedback.rows),
    heldOut,
    sources,
  });
}

/** Chooses each site's calibration on the base model's log-odds of its feedback. */
function calibrateSites(
  pipeline: PipelineParams,
  weights: LogisticWeights,
  sites: readonly SiteRows[],
): SiteCalibrationsFile {
  const scorer = createScorer(pipeline, weights);
  const calibrations = sites.map(({ site, rows, sources }): SiteCalibration => {
    const logits = new Float64Array(rows.rows);
    const heldOut = new Uint8Array(rows.rows);
    for (let row = 0; row < rows.rows; row++) {
      const p = scorer.score(rows.features, row * FEATURE_COUNT);
      logits[row] = Math.log(p) - Math.log1p(-p);
      heldOut[row] =
        hashLabProfile(rows.features, row * FEATURE_COUNT) % CALIBRATION_CHECK_MODULUS === 0 ? 1 : 0;
    }
    return fitSiteCalibration({
      site,
      logits,
      labels: rows.labels.subarray(0, rows.rows),
      heldOut,
      sources,
    });
  });
  return { formatVersion: 1, sites: calibrations };
}

/**
 * Runs the whole pipeline once. Rejects with the signal's reason when aborted (checked
 * between stages and between training passes) and disposes every tensor it made either way.
 */
export async function runTrainingPipeline(options: TrainingPipelineOptions): Promise<TrainingPipelineResult> {
  const { original, signal } = options;
  const started = performance.now();
  let mark = started;
  const lap = (): number => {
    const now = performance.now();
    const elapsed = now - mark;
    mark = now;
    return elapsed;
  };
  signal?.throwIfAborted();
  const backend = options.backend ?? (await getTfBackend());
  const { tf } = backend;
  lap();

  const split = splitHoldout(original, options.holdoutFraction);
  const { holdout } = split;
  const holdoutNegatives = split.report.holdoutRows - split.report.holdoutPositives;
  if (split.report.holdoutPositives === 0 || holdoutNegatives === 0) {
    throw new Error(
      `the holdout has ${split.report.holdoutPositives} liver-disease and ${holdoutNegatives} other rows; ` +
        `it needs both, so the original data needs more unique rows of each class (has ${split.report.uniqueRows})`,
    );
  }
  const feedback = options.feedback ?? allocateDataset(0, original.source);
  const { kept, dropped } = excludeHoldoutProfiles(feedback, holdout);
  const train = concatDatasets(split.train, kept);
  const splitMs = lap();
  signal?.throwIfAborted();

  const pipeline = fitFeaturePipeline(train, { encoding: options.encoding });
  const trainMatrix = transformToFloat32(pipeline, train);
  const fitMs = lap();

  const fit = await trainLogisticRegression(
    tf,
    { rows: train.rows, columns: FEATURE_COUNT, values: trainMatrix },
    train.labels,
    { signs: CLINICAL_SIGNS, ...options.trainer, signal, onProgress: options.onProgress },
  );
  const trainMs = lap();
  signal?.throwIfAborted();

  const model = buildLayersModel(tf, fit.weights, fit.l1);
  try {
    const holdoutMatrix = transformToFloat32(pipeline, holdout);
    const predicted = tf.tidy(() => {
      // One batch: predict's default of 32 rows per batch slices the tensor thousands of times.
      const output = model.predict(tf.tensor2d(holdoutMatrix, [holdout.rows, FEATURE_COUNT]), {
        batchSize: holdout.rows,
      });
      if (Array.isArray(output)) throw new Error("the logistic model must have one output");
      return output;
    });
    let holdoutProbabilities: Float32Array;
    try {
      holdoutProbabilities = Float32Array.from(await predicted.data());
    } finally {
      predicted.dispose();
    }
    const metrics: ModelMetrics = {
      holdout: evaluateBinary(holdout.labels, holdoutProbabilities, options.threshold ?? DEFAULT_THRESHOLD),
      training: {
        rows: train.rows,
        positives: countPositives(train),
        loss: fit.loss,
        objective: fit.objective,
        iterations: fit.iterations,
        converged: fit.converged,
        l1: fit.l1,
        zeroWeights: fit.zeroWeights,
      },
    };
    const rowCounts: ArtifactRowCounts = {
      originalRows: original.rows,
      uniqueRows: split.report.uniqueRows,
      duplicatesRemoved: split.report.duplicatesRemoved,
      trainRows: train.rows,
      holdoutRows: holdout.rows,
      feedbackRows: kept.rows,
      feedbackRowsDropped: dropped,
    };
    const weights: LogisticWeights = {
      kernel: fit.weights.kernel.map(Math.fround),
      bias: Math.fround(fit.weights.bias),
    };
    const calibration =
      options.recalibrateOn === undefined
        ? undefined
        : recalibrate(pipeline, weights, options.recalibrateOn, options.recalibrationSources);
    const siteCalibrations =
      options.siteFeedback === undefined
        ? undefined
        : calibrateSites(pipeline, weights, options.siteFeedback);
    const evaluateMs = lap();

    let artifact: PipelineArtifact | undefined;
    let buildMs = 0;
    let writeMs = 0;
    if (options.artifact !== undefined) {
      signal?.throwIfAborted();
      const { version, parentDir, createdAt } = options.artifact;
      const files = buildArtifactFiles({
        version,
        createdAt: createdAt ?? new Date(),
        dataSource: original.source,
        tfBackend: backend.name,
        rowCounts,
        holdoutFingerprint: split.report.holdoutFingerprint,
        holdoutScheme: split.report.holdoutScheme,
        model: await saveModelFiles(tf, model),
        pipeline,
        metrics,
        calibration,
        siteCalibrations,
      });
      buildMs = lap();
      let dir: string | undefined;
      if (parentDir !== undefined) {
        dir = (await writeArtifact(parentDir, version, files)).dir;
        writeMs = lap();
      }
      artifact = { version, files, manifestSha256: manifestSha256(files), dir };
    }

    return {
      metrics,
      rowCounts,
      timingsMs: {
        split: splitMs,
        fitPipeline: fitMs,
        train: trainMs,
        evaluate: evaluateMs,
        buildArtifact: buildMs,
        writeArtifact: writeMs,
        total: performance.now() - started,
      },
      backend: backend.name,
      skippedBackends: backend.skipped,
      split: split.report,
      pipeline,
      weights,
      holdout,
      holdoutProbabilities,
      calibration,
      siteCalibrations,
      artifact,
    };
  } finally {
    model.dispose();
  }
}
