import path from "node:path";
import type { Dataset } from "../shared/data/dataset.js";
import { runTrainingPipeline } from "../shared/model/training-pipeline.js";
import type { CandidateProgress, CandidateRequest, TrainedCandidate } from "./candidate-trainer.js";
import { FeedbackStore } from "./store/feedback-store.js";
import { SampleStore } from "./store/sample-store.js";
import { openSqliteStore, type StoreDatabase } from "./store/sqlite-store.js";

/**
 * What the training worker does for one candidate: read the original samples and the
 * labelled feedback up to the run's snapshot from the store (read-only, in the worker,
 * so the gRPC thread never pays for it), run the shared training pipeline, and publish
 * the artifact folder atomically. The original samples never change after the import,
 * so they are read once per worker and kept.
 */
export class StoredCandidateTraining {
  private db: StoreDatabase | undefined;
  private original: { readonly importedAtMs: number; readonly dataset: Dataset } | undefined;

  constructor(
    private readonly storeFile: string,
    private readonly modelPath: string,
  ) {}

  async train(
    request: CandidateRequest,
    onProgress: (progress: CandidateProgress) => void,
    signal: AbortSignal,
  ): Promise<TrainedCandidate> {
    onProgress({ stage: "loading", step: 0, totalSteps: 1, loss: 0 });
    const db = this.open();
    // One read transaction: samples and feedback come from the same snapshot of the store.
    const { original, feedback } = db.transaction(() => ({
      original: this.originalDataset(db),
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
    let lastStep = 0;
    const result = await runTrainingPipeline({
      original,
      feedback: {
        rows: feedback.rows,
        features: feedback.features,
        labels: feedback.labels,
        source: original.source,
      },
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
    return {
      metrics: result.metrics.holdout,
      originalRows: counts.trainRows - counts.feedbackRows,
      feedbackRows: counts.feedbackRows,
      holdoutRows: counts.holdoutRows,
      sha256: artifact.manifestSha256,
      synthetic: original.source === "synthetic",
    };
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
