import type { BinaryMetrics } from "../shared/model/metrics.js";
import type { SiteCalibrationsFile } from "../shared/model/served-answer.js";
import type { CalibrationRecord } from "../shared/model/output-calibration.js";
import type { GateEvidence } from "./quality-gate.js";
import type { ServedChangeEvidence } from "./served-change.js";
import type { TrainingStageReport } from "./training-stages.js";

/** One candidate to train: everything the trainer needs besides the store. */
export interface CandidateRequest {
  readonly runId: string;
  /** The version name the candidate takes, e.g. "v4". */
  readonly modelVersion: string;
  /** The artifact folder to publish (atomically) on success, e.g. MODEL_PATH/v4. */
  readonly artifactDir: string;
  /** Train on labelled feedback with seq <= this (the run's snapshot). */
  readonly feedbackUpTo: number;
  /** The version serving when the run started: re-scored on the holdout for the gate. */
  readonly servingVersion: string | undefined;
  /** The last version a person approved (or the first): the candidate's served answers are compared with it. */
  readonly approvedVersion: string | undefined;
  /** Slices with fewer holdout rows are reported, not judged (GATE_MIN_SLICE_ROWS). */
  readonly minSliceRows: number;
  /** W3C traceparent of the training's span; the trainer reports its stages under it. */
  readonly traceparent?: string | undefined;
}

/** Where a run is, for GetRetrainStatus. */
export interface CandidateProgress {
  /** "starting" (set by the runner), "loading", "training", "publishing": RetrainStage in the contract. */
  readonly stage: string;
  readonly step: number;
  readonly totalSteps: number;
  readonly loss: number;
}

/** A trained, scored and published candidate. */
export interface TrainedCandidate {
  /** Holdout metrics of the base model (before recalibration), compared by the gate. */
  readonly metrics: BinaryMetrics;
  /** The reference and serving models on the same holdout, and the slice checks. */
  readonly gate: GateEvidence;
  /** Its served answers against the approved version's, per site and slice. */
  readonly served: ServedChangeEvidence;
  /** The site recalibration the artifact carries; undefined when SITE_RECALIBRATION is off. */
  readonly calibration: CalibrationRecord | undefined;
  /** Every non-default site's calibration with its evidence; undefined when none was fitted. */
  readonly siteCalibrations?: SiteCalibrationsFile | undefined;
  readonly originalRows: number;
  readonly feedbackRows: number;
  readonly holdoutRows: number;
  /** SHA-256 of the published manifest. */
  readonly sha256: string;
  readonly synthetic: boolean;
  /** The stages as the trainer timed them, when the request carried a traceparent. */
  readonly stages?: TrainingStageReport | undefined;
}

/**
 * Trains one candidate on the original data plus labelled feedback and publishes its
 * artifact folder. The production trainer runs in a worker thread; tests may substitute
 * one that delays or fails on purpose.
 */
export interface CandidateTrainer {
  train(
    request: CandidateRequest,
    onProgress: (progress: CandidateProgress) => void,
    signal: AbortSignal,
  ): Promise<TrainedCandidate>;
  /** Stops the trainer's thread; a running train() rejects. */
  close(): Promise<void>;
}
