import path from "node:path";
import type { Dataset } from "../shared/data/dataset.js";
import { FEATURE_COUNT } from "../shared/features/feature-schema.js";
import { readArtifactDir } from "../shared/model/model-artifact.js";
import { createScorer, type Scorer } from "../shared/model/scorer.js";
import { runTrainingPipeline, type SiteRows } from "../shared/model/training-pipeline.js";
import { IDENTITY_CALIBRATION } from "../shared/model/output-calibration.js";
import { siteCalibrationsOf } from "../shared/model/served-answer.js";
import { DEFAULT_SITE } from "../shared/sites/site-name.js";
import { measureGateEvidence, scoreRows } from "./gate-evidence.js";
import type { ServedModel } from "./served-answers.js";
import { measureServedChange } from "./served-change.js";
import { capRowsPerSource, DEFAULT_TRAINING_ROWS_PER_SOURCE } from "./source-capped-rows.js";
import type { CandidateProgress, CandidateRequest, TrainedCandidate } from "./candidate-trainer.js";
import { siteInterceptRows } from "./site-intercept-rows.js";
import { StageClock, epochMs, pipelineStages } from "./training-stages.js";
import { FeedbackStore, type LabelledRows } from "./store/feedback-store.js";
import { SampleStore } from "./store/sample-store.js";
import { openSqliteStore, type StoreDatabase } from "./store/sqlite-store.js";

/** How feedback enters a candidate. */
export interface StoredTrainingOptions {
  /** Fit the site recalibration on recent feedback (SITE_RECALIBRATION). */
  readonly siteRecalibration: boolean;
  /** Most recent rows of one source that join base training; 0 for all (FEEDBACK_TRAINING_ROWS_PER_SOURCE). */
  readonly trainingRowsPerSource: number;
  /** Most sites with a calibration of their own (MAX_SITES); omitted: DEFAULT_MAX_SITES. */
  readonly maxSites?: number | undefined;
}

export const DEFAULT_STORED_TRAINING_OPTIONS: StoredTrainingOptions = {
  siteRecalibration: true,
  trainingRowsPerSource: DEFAULT_TRAINING_ROWS_PER_SOURCE,
};

/** Labelled feedback rows the site recalibration is fitted on: the most recent ones. */
export const RECALIBRATION_WINDOW_ROWS = 5_000;

/** The reference model: trained on the original data alone, once per import. */
interface Reference {
  readonly importedAtMs: number;
  readonly scorer: Scorer;
}

/**
 * What the training worker does for one candidate: read the original samples and the
 * labelled feedback up to the run's snapshot from the store (read-only, in the worker,
 * so the gRPC thread never pays for it), run the shared training pipeline (with the site
 * recalibration fitted on recent feedback), measure the gate's evidence against the fixed
 * reference and the serving model on the same holdout rows, and publish the artifact
 * folder atomically. The original samples never change after the import, so they and the
 * reference model are computed once per worker and kept.
 */
export class StoredCandidateTraining {
  private db: StoreDatabase | undefined;
  private original: { readonly importedAtMs: number; readonly dataset: Dataset } | undefined;
  private reference: Reference | undefined;
  private serving: { readonly modelVersion: string; readonly scorer: Scorer } | undefined;
  private approved: ServedModel | undefined;

  constructor(
    private readonly storeFile: string,
    private readonly modelPath: string,
    private readonly options: StoredTrainingOptions = DEFAULT_STORED_TRAINING_OPTIONS,
  ) {}

  async train(
    request: CandidateRequest,
    onProgress: (progress: CandidateProgress) => void,
    signal: AbortSignal,
  ): Promise<TrainedCandidate> {
    onProgress({ stage: "loading", step: 0, totalSteps: 1, loss: 0 });
    const clock = new StageClock();
    clock.stage("load");
    const db = this.open();
    // One read transaction: samples and feedback come from the same snapshot of the store.
    const { original, feedback, importedAtMs } = db.transaction(() => ({
      original: this.originalDataset(db),
      importedAtMs: this.original?.importedAtMs ?? 0,
      feedback: new FeedbackStore(db).labelledRows(request.feedbackUpTo),
    }))();
    signal.throwIfAborted();
    const artifactParent = path.dirname(request.artifactDir);
    if (path.basename(request.artifactDir) !== request.modelVersion) {
      throw new Error(
        `artifact folder ${request.artifactDir} must be named after its version ${request.modelVersion}`,
      );
    }
    if (path.resolve(artifactParent) !== path.resolve(this.modelPath)) {
      throw new Error(`artifact folder ${request.artifactDir} is outside MODEL_PATH ${this.modelPath}`);
    }
    clock.stage("reference_models");
    const reference = await this.referenceScorer(original, importedAtMs, signal);
    const serving = await this.servingScorer(request.servingVersion);
    clock.stage("prepare_rows");
    // One source weighs at most trainingRowsPerSource rows in the base model and in the
    // recalibration, and the recalibration needs several sources: no one source steers either.
    // The base model sees each site's feedback at the prevalence the reference expects for
    // those patients (a per-site intercept), so no site's prevalence moves it.
    const capped = capRowsPerSource(
      siteInterceptRows(feedback, reference),
      this.options.trainingRowsPerSource,
      original.source,
    );
    // Each site's calibration is fitted on that site's recent feedback only: the default
    // site's is calibration.json, every other one's an entry of site-calibrations.json.
    const bySite = rowsBySite(feedback, this.options.maxSites ?? DEFAULT_MAX_SITES);
    const defaultWindow = recentRows(bySite.get(DEFAULT_SITE) ?? emptyRows(), RECALIBRATION_WINDOW_ROWS);
    const recalibration = capRowsPerSource(
      defaultWindow,
      this.options.trainingRowsPerSource,
      original.source,
    );
    const siteFeedback: SiteRows[] = [];
    for (const [site, rows] of bySite) {
      if (site === DEFAULT_SITE) continue;
      const window = recentRows(rows, RECALIBRATION_WINDOW_ROWS);
      siteFeedback.push({
        site,
        rows: capRowsPerSource(window, this.options.trainingRowsPerSource, original.source).kept,
        sources: new Set(window.sources).size,
      });
    }
    let lastStep = 0;
    // The pipeline times its own stages; they are placed from its wall times below.
    clock.stop();
    const result = await runTrainingPipeline({
      original,
      feedback: capped.kept,
      recalibrateOn: this.options.siteRecalibration ? recalibration.kept : undefined,
      recalibrationSources: new Set(defaultWindow.sources).size,
      siteFeedback: this.options.siteRecalibration && siteFeedback.length > 0 ? siteFeedback : undefined,
      signal,
      onProgress: (progress) => {
        lastStep = progress.step;
        onProgress({
          stage: "training",
          step: progress.step,
          totalSteps: progress.totalSteps,
          loss: progress.loss,
        });
      },
      artifact: { version: request.modelVersion, parentDir: artifactParent },
    });
    clock.add(pipelineStages(result.timingsMs, epochMs()));
    clock.stage("gate_evidence");
    onProgress({
      stage: "publishing",
      step: lastStep,
      totalSteps: Math.max(lastStep, 1),
      loss: result.metrics.training.loss,
    });
    const artifact = result.artifact;
    if (artifact?.dir === undefined)
      throw new Error("the training pipeline did not write the artifact folder");
    const counts = result.rowCounts;
    const holdout = {
      rows: result.holdout,
      scheme: result.split.holdoutScheme,
      fingerprint: result.split.holdoutFingerprint,
    };
    const gate = measureGateEvidence(
      holdout,
      scoreRows(createScorer(result.pipeline, result.weights), result.holdout),
      scoreRows(reference, result.holdout),
      serving === undefined
        ? undefined
        : { modelVersion: serving.modelVersion, probabilities: scoreRows(serving.scorer, result.holdout) },
      result.metrics.holdout.threshold,
    );
    const served = measureServedChange(
      result.holdout,
      {
        modelVersion: request.modelVersion,
        pipeline: result.pipeline,
        weights: result.weights,
        calibrations: siteCalibrationsOf(result.calibration ?? IDENTITY_CALIBRATION, result.siteCalibrations),
        threshold: result.metrics.holdout.threshold,
      },
      await this.approvedModel(request.approvedVersion),
      request.minSliceRows,
    );
    return {
      metrics: result.metrics.holdout,
      gate,
      served,
      calibration: result.calibration,
      siteCalibrations: result.siteCalibrations,
      originalRows: counts.trainRows - counts.feedbackRows,
      feedbackRows: counts.feedbackRows,
      holdoutRows: counts.holdoutRows,
      sha256: artifact.manifestSha256,
      synthetic: original.source === "synthetic",
      ...(request.traceparent === undefined
        ? {}
        : { stages: { traceparent: request.traceparent, stages: clock.stages() } }),
    };
  }

  /** The reference model's scorer, trained on the original data alone once per import. */
  private async referenceScorer(
    original: Dataset,
    importedAtMs: number,
    signal: AbortSignal,
  ): Promise<Scorer> {
    if (this.reference?.importedAtMs !== importedAtMs) {
      const result = await runTrainingPipeline({ original, signal });
      this.reference = { importedAtMs, scorer: createScorer(result.pipeline, result.weights) };
    }
    return this.reference.scorer;
  }

  /** The serving version's base scorer (without its recalibration), read from its artifact. */
  private async servingScorer(
    modelVersion: string | undefined,
  ): Promise<{ readonly modelVersion: string; readonly scorer: Scorer } | undefined> {
    if (modelVersion === undefined) return undefined;
    if (this.serving?.modelVersion !== modelVersion) {
      const loaded = await readArtifactDir(path.join(this.modelPath, modelVersion));
      this.serving = { modelVersion, scorer: createScorer(loaded.pipeline, loaded.weights) };
    }
    return this.serving;
  }

  /** The approved version as it serves (with its calibration), read from its artifact. */
  private async approvedModel(modelVersion: string | undefined): Promise<ServedModel | undefined> {
    if (modelVersion === undefined) return undefined;
    if (this.approved?.modelVersion !== modelVersion) {
      const loaded = await readArtifactDir(path.join(this.modelPath, modelVersion));
      this.approved = {
        modelVersion,
        pipeline: loaded.pipeline,
        weights: loaded.weights,
        calibrations: loaded.siteCalibrations,
        threshold: loaded.metrics.holdout.threshold,
      };
    }
    return this.approved;
  }

  close(): void {
    this.db?.close();
    this.db = undefined;
  }

  private open(): StoreDatabase {
    this.db ??= openSqliteStore(this.storeFile, { readonly: true });
    return this.db;
  }

  private originalDataset(db: StoreDatabase): Dataset {
    const samples = new SampleStore(db);
    const info = samples.info();
    if (info === undefined)
      throw new Error("the store holds no original dataset yet; it is imported on first start");
    if (this.original?.importedAtMs !== info.importedAtMs) {
      this.original = { importedAtMs: info.importedAtMs, dataset: samples.loadDataset() };
    }
    return this.original.dataset;
  }
}

/** The last `limit` rows of `rows` with their sources (feedback is stored in arrival order). */
function recentRows(rows: LabelledRows, limit: number): LabelledRows {
  if (rows.rows <= limit) return rows;
  const from = rows.rows - limit;
  return {
    rows: limit,
    features: rows.features.subarray(from * FEATURE_COUNT, rows.rows * FEATURE_COUNT),
    labels: rows.labels.subarray(from, rows.rows),
    sources: rows.sources.slice(from),
    sites: rows.sites?.slice(from),
  };
}

/** Default MAX_SITES: sites with a calibration of their own (metrics keep a bounded label set). */
export const DEFAULT_MAX_SITES = 50;

function emptyRows(): LabelledRows {
  return { rows: 0, features: new Float64Array(0), labels: new Uint8Array(0), sources: [], sites: [] };
}

/**
 * The rows of each site, in arrival order. Only the `maxSites` non-default sites with the
 * most rows get their own entry (ties: by name); the rest get none and are answered by the
 * base model. Their rows still train the base model, as every site's do.
 */
export function rowsBySite(rows: LabelledRows, maxSites: number): Map<string, LabelledRows> {
  const indexes = new Map<string, number[]>();
  for (let i = 0; i < rows.rows; i++) {
    const site = rows.sites?.[i] ?? DEFAULT_SITE;
    let list = indexes.get(site);
    if (list === undefined) indexes.set(site, (list = []));
    list.push(i);
  }
  const others = [...indexes.entries()]
    .filter(([site]) => site !== DEFAULT_SITE)
    .sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1))
    .slice(0, maxSites);
  const chosen = indexes.has(DEFAULT_SITE)
    ? [[DEFAULT_SITE, indexes.get(DEFAULT_SITE) ?? []] as const, ...others]
    : others;
  const out = new Map<string, LabelledRows>();
  for (const [site, list] of chosen) {
    const features = new Float64Array(list.length * FEATURE_COUNT);
    const labels = new Uint8Array(list.length);
    list.forEach((from, to) => {
      features.set(
        rows.features.subarray(from * FEATURE_COUNT, (from + 1) * FEATURE_COUNT),
        to * FEATURE_COUNT,
      );
      labels[to] = rows.labels[from] ?? 0;
    });
    out.set(site, {
      rows: list.length,
      features,
      labels,
      sources: list.map((i) => rows.sources[i] ?? ""),
      sites: list.map(() => site),
    });
  }
  return out;
}
