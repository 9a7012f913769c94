/**
 * Messages between the RetrainService and its training worker thread. Plain data only
 * (structured clone), so the two sides share nothing but these shapes.
 */
import type { CandidateProgress, CandidateRequest, TrainedCandidate } from "./candidate-trainer.js";

/** What the worker is started with (workerData). */
export interface TrainingWorkerData {
  /** The SQLite store, opened read-only by the worker. */
  readonly storeFile: string;
  /** MODEL_PATH: where artifact folders are published. */
  readonly modelPath: string;
  /** SITE_RECALIBRATION: fit the site recalibration on recent feedback (default true). */
  readonly siteRecalibration?: boolean | undefined;
  /** FEEDBACK_TRAINING_ROWS_PER_SOURCE (default 100; 0 for no cap). */
  readonly trainingRowsPerSource?: number | undefined;
  /** MAX_SITES: sites with a calibration of their own (default 50). */
  readonly maxSites?: number | undefined;
}

/** Main thread to worker. */
export type ToTrainingWorker =
  | { readonly type: "train"; readonly jobId: number; readonly request: CandidateRequest }
  | { readonly type: "abort"; readonly jobId: number; readonly reason: string };

/** Worker to main thread. */
export type FromTrainingWorker =
  | { readonly type: "progress"; readonly jobId: number; readonly progress: CandidateProgress }
  | { readonly type: "done"; readonly jobId: number; readonly candidate: TrainedCandidate }
  | { readonly type: "failed"; readonly jobId: number; readonly message: string; readonly stack?: string };
