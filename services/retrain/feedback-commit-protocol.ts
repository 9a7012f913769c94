/** Messages between the RetrainService and its feedback commit thread (plain data only). */
import type { InsertOutcome, NewFeedback } from "./store/feedback-store.js";

/** What the commit thread is started with (workerData). */
export interface CommitThreadData {
  /** The SQLite store; the main thread has already created and migrated it. */
  readonly storeFile: string;
}

/** Main thread to commit thread: one transaction's worth of feedback. */
export interface CommitRequest {
  readonly batchId: number;
  readonly entries: readonly NewFeedback[];
}

/** Commit thread to main thread. */
export type CommitReply =
  | { readonly type: "ready" }
  | { readonly type: "committed"; readonly batchId: number; readonly outcomes: InsertOutcome[] }
  | { readonly type: "failed"; readonly batchId: number; readonly message: string };
