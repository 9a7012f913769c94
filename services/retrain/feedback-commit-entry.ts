/**
 * The feedback commit thread's entry (started by FeedbackCommitThread): owns a write
 * connection and commits each batch it is sent in one synchronous=FULL transaction. The
 * fsync blocks this thread only, so the gRPC thread keeps verifying and queueing the next
 * batch meanwhile.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { CommitReply, CommitRequest, CommitThreadData } from "./feedback-commit-protocol.js";
import { FeedbackStore } from "./store/feedback-store.js";
import { openSqliteStore } from "./store/sqlite-store.js";

const port = parentPort;
if (port === null) throw new Error("feedback-commit-entry must run in a worker thread (new Worker(...))");
const { storeFile } = workerData as CommitThreadData;
const db = openSqliteStore(storeFile);
const store = new FeedbackStore(db);

function reply(message: CommitReply): void {
  port?.postMessage(message);
}

port.on("message", ({ batchId, entries }: CommitRequest) => {
  try {
    reply({ type: "committed", batchId, outcomes: store.insertMany(entries) });
  } catch (error) {
    reply({ type: "failed", batchId, message: error instanceof Error ? error.message : String(error) });
  }
});
port.on("close", () => db.close());
reply({ type: "ready" });
