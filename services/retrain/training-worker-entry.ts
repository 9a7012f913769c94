/**
 * The training worker thread's entry (started by WorkerTrainer): trains one candidate at
 * a time on request and reports progress, the result or the error. TensorFlow.js and the
 * original samples stay loaded between runs, so a retrain pays only for training.
 */
import { parentPort, workerData } from "node:worker_threads";
import { DEFAULT_STORED_TRAINING_OPTIONS, StoredCandidateTraining } from "./stored-candidate-training.js";
import type { FromTrainingWorker, ToTrainingWorker, TrainingWorkerData } from "./training-worker-protocol.js";

const port = parentPort;
if (port === null) throw new Error("training-worker-entry must run in a worker thread (new Worker(...))");
const data = workerData as TrainingWorkerData;
const training = new StoredCandidateTraining(data.storeFile, data.modelPath, {
  siteRecalibration: data.siteRecalibration ?? DEFAULT_STORED_TRAINING_OPTIONS.siteRecalibration,
  trainingRowsPerSource: data.trainingRowsPerSource ?? DEFAULT_STORED_TRAINING_OPTIONS.trainingRowsPerSource,
  maxSites: data.maxSites,
});
const running = new Map<number, AbortController>();

function send(message: FromTrainingWorker): void {
  port?.postMessage(message);
}

async function train(jobId: number, message: Extract<ToTrainingWorker, { type: "train" }>): Promise<void> {
  const controller = new AbortController();
  running.set(jobId, controller);
  try {
    const candidate = await training.train(
      message.request,
      (progress) => send({ type: "progress", jobId, progress }),
      controller.signal,
    );
    send({ type: "done", jobId, candidate });
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    send({
      type: "failed",
      jobId,
      message: failure.message,
      ...(failure.stack ? { stack: failure.stack } : {}),
    });
  } finally {
    running.delete(jobId);
  }
}

port.on("message", (message: ToTrainingWorker) => {
  if (message.type === "train") void train(message.jobId, message);
  else running.get(message.jobId)?.abort(new Error(message.reason));
});
port.on("close", () => training.close());
