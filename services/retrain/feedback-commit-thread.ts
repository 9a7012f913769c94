import type { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { CommitReply, CommitRequest, CommitThreadData } from "./feedback-commit-protocol.js";
import type { FeedbackBatchSink } from "./feedback-writer.js";
import type { InsertOutcome, NewFeedback } from "./store/feedback-store.js";
import { startWorkerThread } from "./worker-thread.js";

interface Pending {
  readonly resolve: (outcomes: InsertOutcome[]) => void;
  readonly reject: (error: Error) => void;
}

/** A small heap: the thread holds one batch at a time. */
const COMMIT_THREAD_LIMITS = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 64 } as const;

/**
 * The durable sink of the FeedbackWriter: a worker thread with its own SQLite connection
 * that commits each batch (synchronous=FULL, so the fsync happens there). While it waits
 * for the disk, the gRPC thread goes on receiving and verifying feedback, which becomes
 * the next batch; under a slow disk this keeps the fsync off the request path's CPU. A
 * thread that dies fails its batch (nobody is acknowledged) and is replaced on the next.
 */
export class FeedbackCommitThread implements FeedbackBatchSink {
  private worker: Worker | undefined;
  private ready: Promise<Worker> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextBatchId = 1;
  private closed = false;

  constructor(
    private readonly storeFile: string,
    private readonly logger: Logger,
  ) {}

  /** Starts the thread and resolves once its connection is open. */
  start(): Promise<void> {
    return this.ensureWorker().then(() => undefined);
  }

  async insertMany(entries: readonly NewFeedback[]): Promise<InsertOutcome[]> {
    if (this.closed) throw new Error("the feedback commit thread is closed");
    const worker = await this.ensureWorker();
    const batchId = this.nextBatchId++;
    return new Promise<InsertOutcome[]>((resolve, reject) => {
      this.pending.set(batchId, { resolve, reject });
      const request: CommitRequest = { batchId, entries };
      worker.postMessage(request);
    });
  }

  /** Stops the thread; call after the writer has drained. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    this.ready = undefined;
    this.failAll(new Error("the feedback commit thread was closed"));
    if (worker !== undefined) await worker.terminate();
  }

  private ensureWorker(): Promise<Worker> {
    if (this.ready !== undefined) return this.ready;
    const data: CommitThreadData = { storeFile: this.storeFile };
    const worker = startWorkerThread("feedback-commit-entry", data, COMMIT_THREAD_LIMITS);
    this.worker = worker;
    const ready = new Promise<Worker>((resolve, reject) => {
      worker.on("message", (message: CommitReply) => {
        if (message.type === "ready") {
          resolve(worker);
          return;
        }
        const pending = this.pending.get(message.batchId);
        this.pending.delete(message.batchId);
        if (message.type === "committed") pending?.resolve(message.outcomes);
        else pending?.reject(new Error(message.message));
      });
      worker.on("error", (error) => {
        this.logger.error({ err: error }, "feedback commit thread crashed");
        reject(error);
        this.lost(worker, error);
      });
      worker.on("exit", (code) => {
        const error = new Error(`the feedback commit thread exited with code ${code}`);
        reject(error);
        this.lost(worker, error);
      });
    });
    ready.catch(() => undefined);
    this.ready = ready;
    return ready;
  }

  /** A dead thread fails its batches (nobody was acknowledged) and is replaced on demand. */
  private lost(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.ready = undefined;
    this.failAll(error);
  }

  private failAll(error: Error): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const batch of pending) batch.reject(error);
  }
}
