import type { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { storeFilePath, type RetrainConfig } from "./retrain-config.js";
import type {
  CandidateProgress,
  CandidateRequest,
  CandidateTrainer,
  TrainedCandidate,
} from "./candidate-trainer.js";
import type { FromTrainingWorker, ToTrainingWorker, TrainingWorkerData } from "./training-worker-protocol.js";
import { startWorkerThread } from "./worker-thread.js";

/** Options of WorkerTrainer. */
export interface WorkerTrainerOptions extends TrainingWorkerData {
  readonly logger: Logger;
  /** How long an aborted job may take to stop before its thread is terminated. */
  readonly abortGraceMs?: number;
}

interface Job {
  readonly jobId: number;
  readonly onProgress: (progress: CandidateProgress) => void;
  readonly resolve: (candidate: TrainedCandidate) => void;
  readonly reject: (error: Error) => void;
  /** Detaches the abort listener. */
  detach: () => void;
  abortTimer?: NodeJS.Timeout;
}

/**
 * Heap limits of the training thread. A small young generation makes V8 collect the
 * per-run garbage promptly instead of letting the semi-spaces grow (about 25 MiB less RSS
 * after a few dozen retrains, measured); the old-generation cap turns a runaway run into a
 * failed run instead of an out-of-memory kill of the whole service. Datasets are typed
 * arrays outside the V8 heap, so they do not count against either limit.
 */
export const TRAINING_WORKER_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 512 } as const;

/** Starts the training thread (training-worker-entry) with TRAINING_WORKER_LIMITS. */
export function startTrainingWorkerThread(workerData: TrainingWorkerData): Worker {
  return startWorkerThread("training-worker-entry", workerData, TRAINING_WORKER_LIMITS);
}

/**
 * The production CandidateTrainer: one long-lived worker thread that loads TensorFlow.js
 * once and trains one candidate at a time, so the gRPC event loop never runs training
 * code. A worker that crashes or exits fails the running job (recorded as a failed run)
 * and is replaced on the next job; the service keeps serving throughout.
 */
export class WorkerTrainer implements CandidateTrainer {
  private worker: Worker | undefined;
  private job: Job | undefined;
  private nextJobId = 1;
  private closed = false;

  constructor(private readonly options: WorkerTrainerOptions) {}

  /** The trainer a RetrainService with `config` runs: its store, models and feedback settings. */
  static forConfig(config: RetrainConfig, logger: Logger): WorkerTrainer {
    return new WorkerTrainer({
      storeFile: storeFilePath(config),
      modelPath: config.modelPath,
      siteRecalibration: config.siteRecalibration,
      trainingRowsPerSource: config.trainingRowsPerSource,
      maxSites: config.maxSites,
      logger,
    });
  }

  train(
    request: CandidateRequest,
    onProgress: (progress: CandidateProgress) => void,
    signal: AbortSignal,
  ): Promise<TrainedCandidate> {
    if (this.closed) return Promise.reject(new Error("the trainer is closed"));
    if (this.job !== undefined) return Promise.reject(new Error("a candidate is already training"));
    signal.throwIfAborted();
    const worker = this.ensureWorker();
    const jobId = this.nextJobId++;
    return new Promise<TrainedCandidate>((resolve, reject) => {
      const job: Job = { jobId, onProgress, resolve, reject, detach: () => undefined };
      this.job = job;
      const onAbort = (): void => {
        const reason = signal.reason instanceof Error ? signal.reason.message : "aborted";
        this.post({ type: "abort", jobId, reason });
        // A job stuck inside a long synchronous kernel cannot see the message: end the thread.
        job.abortTimer = setTimeout(() => {
          this.settle(jobId, new Error(`training aborted (${reason}); the worker did not stop in time`));
          void this.restartWorker();
        }, this.options.abortGraceMs ?? 2_000);
        job.abortTimer.unref();
      };
      signal.addEventListener("abort", onAbort, { once: true });
      job.detach = () => signal.removeEventListener("abort", onAbort);
      this.post({ type: "train", jobId, request });
      worker.ref();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    if (this.job !== undefined) this.settle(this.job.jobId, new Error("the trainer was closed"));
    if (worker !== undefined) await worker.terminate();
  }

  private ensureWorker(): Worker {
    if (this.worker !== undefined) return this.worker;
    const { storeFile, modelPath, siteRecalibration, trainingRowsPerSource, maxSites } = this.options;
    const worker = startTrainingWorkerThread({
      storeFile,
      modelPath,
      siteRecalibration,
      trainingRowsPerSource,
      maxSites,
    });
    worker.on("message", (message: FromTrainingWorker) => this.onMessage(message));
    worker.on("error", (error) => {
      this.options.logger.error({ err: error }, "training worker crashed");
      if (this.worker === worker) this.worker = undefined;
      if (this.job !== undefined)
        this.settle(this.job.jobId, new Error(`training worker crashed: ${error.message}`));
    });
    worker.on("exit", (code) => {
      if (this.worker === worker) this.worker = undefined;
      if (this.job !== undefined) {
        this.settle(this.job.jobId, new Error(`training worker exited with code ${code} during the run`));
      }
    });
    // Idle between runs: the worker must not keep the process alive on its own.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private async restartWorker(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker !== undefined) await worker.terminate();
  }

  private post(message: ToTrainingWorker): void {
    this.worker?.postMessage(message);
  }

  private onMessage(message: FromTrainingWorker): void {
    const job = this.job;
    if (job?.jobId !== message.jobId) return;
    if (message.type === "progress") {
      job.onProgress(message.progress);
      return;
    }
    if (message.type === "done") {
      this.clearJob(job);
      job.resolve(message.candidate);
      return;
    }
    const error = new Error(message.message);
    if (message.stack !== undefined) error.stack = message.stack;
    this.settle(job.jobId, error);
  }

  private settle(jobId: number, error: Error): void {
    const job = this.job;
    if (job?.jobId !== jobId) return;
    this.clearJob(job);
    job.reject(error);
  }

  private clearJob(job: Job): void {
    job.detach();
    if (job.abortTimer !== undefined) clearTimeout(job.abortTimer);
    this.job = undefined;
    this.worker?.unref();
  }
}
