import type { InsertOutcome, NewFeedback } from "./store/feedback-store.js";

/** The part of FeedbackStore the writer needs: one transaction per call. */
export interface FeedbackBatchSink {
  insertMany(entries: readonly NewFeedback[]): InsertOutcome[];
}

/** Options of FeedbackWriter. */
export interface FeedbackWriterOptions {
  /** Largest batch per transaction; a longer queue is committed in several. */
  readonly maxBatch?: number;
  /** Called after each commit, for metrics. */
  readonly onBatch?: (size: number, durationMs: number) => void;
  /** Schedules the flush; setImmediate by default (after this tick's I/O callbacks). */
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
 * Group commit: every feedback submitted during one event-loop turn is committed in one
 * transaction (one fsync with synchronous=FULL), and each caller's promise settles only
 * after that commit. Concurrent callers share the fsync, so durability does not cap
 * throughput, and nobody is acknowledged for a row that is not on disk.
 */
export class FeedbackWriter {
  private queue: Pending[] = [];
  private scheduled = false;
  private closed = false;
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
      if (!this.scheduled) {
        this.scheduled = true;
        this.schedule(() => {
          this.flush();
        });
      }
    });
  }

  /** Feedbacks waiting for the next commit. */
  get queued(): number {
    return this.queue.length;
  }

  /** Commits what is queued now, in batches of at most maxBatch. */
  flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      const started = performance.now();
      let outcomes: InsertOutcome[];
      try {
        outcomes = this.sink.insertMany(batch.map((pending) => pending.entry));
      } catch (error) {
        for (const pending of batch) pending.reject(error);
        continue;
      }
      this.options.onBatch?.(batch.length, performance.now() - started);
      batch.forEach((pending, i) => {
        const outcome = outcomes[i];
        if (outcome === undefined)
          pending.reject(new Error("the store returned fewer outcomes than entries"));
        else pending.resolve(outcome);
      });
    }
  }

  /** Commits what is queued and refuses anything new (shutdown). */
  close(): void {
    this.closed = true;
    this.flush();
  }
}
