import type { InsertOutcome, NewFeedback } from "./store/feedback-store.js";

/**
 * Where batches are committed: one transaction per call, settled after the commit. The
 * production sink is FeedbackCommitThread; FeedbackStore itself also fits (synchronously).
 */
export interface FeedbackBatchSink {
  insertMany(entries: readonly NewFeedback[]): Promise<InsertOutcome[]> | InsertOutcome[];
}

/** Options of FeedbackWriter. */
export interface FeedbackWriterOptions {
  /** Largest batch per transaction; a longer queue is committed in several. */
  readonly maxBatch?: number;
  /** Called after each commit, for metrics. */
  readonly onBatch?: (size: number, durationMs: number) => void;
  /** Schedules the first flush of an idle writer; setImmediate by default (after this tick's I/O). */
  readonly schedule?: (flush: () => void) => void;
}

/** The writer was closed; nothing more is accepted. */
export class FeedbackWriterClosedError extends Error {
  constructor() {
    super("the feedback store is closing; retry against another instance or after the restart");
    this.name = "FeedbackWriterClosedError";
  }
}

interface Pending {
  readonly entry: NewFeedback;
  readonly resolve: (outcome: InsertOutcome) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit: feedback submitted while no transaction is in flight is committed together
 * after the current event-loop turn; feedback that arrives while one is in flight waits
 * and forms the next transaction. Each caller's promise settles only after its commit, so
 * nobody is acknowledged for a row that is not on disk, and concurrent callers share the
 * fsync, so durability does not cap throughput.
 */
export class FeedbackWriter {
  private queue: Pending[] = [];
  private scheduled = false;
  private inFlight = false;
  private closed = false;
  private drained: (() => void)[] = [];
  private readonly maxBatch: number;
  private readonly schedule: (flush: () => void) => void;

  constructor(
    private readonly sink: FeedbackBatchSink,
    private readonly options: FeedbackWriterOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 1024;
    this.schedule = options.schedule ?? ((flush) => setImmediate(flush));
  }

  /** Resolves once the feedback is committed (or found to be a duplicate). */
  submit(entry: NewFeedback): Promise<InsertOutcome> {
    if (this.closed) return Promise.reject(new FeedbackWriterClosedError());
    return new Promise<InsertOutcome>((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      if (!this.scheduled && !this.inFlight) {
        this.scheduled = true;
        this.schedule(() => {
          this.scheduled = false;
          this.commitNext();
        });
      }
    });
  }

  /** Feedbacks waiting for a commit. */
  get queued(): number {
    return this.queue.length;
  }

  /** Refuses new feedback and resolves once everything accepted so far is committed. */
  close(): Promise<void> {
    this.closed = true;
    this.commitNext();
    if (!this.inFlight && this.queue.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.drained.push(resolve));
  }

  private commitNext(): void {
    if (this.inFlight) return;
    if (this.queue.length === 0) {
      const waiters = this.drained;
      this.drained = [];
      for (const resolve of waiters) resolve();
      return;
    }
    const batch = this.queue.splice(0, this.maxBatch);
    this.inFlight = true;
    const started = performance.now();
    let result: Promise<InsertOutcome[]>;
    try {
      result = Promise.resolve(this.sink.insertMany(batch.map((pending) => pending.entry)));
    } catch (error) {
      result = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    void result
      .then(
        (outcomes) => {
          this.options.onBatch?.(batch.length, performance.now() - started);
          batch.forEach((pending, i) => {
            const outcome = outcomes[i];
            if (outcome === undefined)
              pending.reject(new Error("the store returned fewer outcomes than entries"));
            else pending.resolve(outcome);
          });
        },
        (error: unknown) => {
          for (const pending of batch) pending.reject(error);
        },
      )
      .finally(() => {
        this.inFlight = false;
        // What arrived during the commit is the next transaction; start it at once.
        this.commitNext();
      });
  }
}
