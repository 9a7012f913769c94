import { describe, expect, it } from "vitest";
import { FeedbackWriter, FeedbackWriterClosedError, type FeedbackBatchSink } from "./feedback-writer.js";
import type { InsertOutcome, NewFeedback } from "./store/feedback-store.js";
import { newFeedback } from "./testing/retrain-fixtures.js";

/** A sink that records each transaction and remembers which predictions it "committed". */
class RecordingSink implements FeedbackBatchSink {
  readonly batches: string[][] = [];
  readonly committed = new Set<string>();
  failNext: Error | undefined;
  insertMany(entries: readonly NewFeedback[]): InsertOutcome[] {
    if (this.failNext !== undefined) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    this.batches.push(entries.map((e) => e.predictionId));
    return entries.map((e, i) => {
      const stored = !this.committed.has(e.predictionId);
      this.committed.add(e.predictionId);
      return stored
        ? { stored, seq: this.committed.size + i, feedbackId: e.feedbackId }
        : { stored, feedbackId: "old", state: "trained" as const, stateReason: "" };
    });
  }
}

describe("FeedbackWriter", () => {
  it("commits everything submitted in one tick as one transaction, resolving only after it", async () => {
    const sink = new RecordingSink();
    const writer = new FeedbackWriter(sink);
    const entries = Array.from({ length: 32 }, () => newFeedback());
    const acknowledged: string[] = [];
    const all = entries.map((e) =>
      writer.submit(e).then((outcome) => {
        // Acknowledged only for rows the sink already committed.
        expect(sink.committed.has(e.predictionId)).toBe(true);
        acknowledged.push(e.predictionId);
        return outcome;
      }),
    );
    expect(writer.queued).toBe(32);
    expect(sink.batches).toHaveLength(0);
    const outcomes = await Promise.all(all);
    expect(sink.batches).toHaveLength(1);
    expect(sink.batches[0]).toEqual(entries.map((e) => e.predictionId));
    expect(outcomes.every((o) => o.stored)).toBe(true);
    expect(acknowledged).toHaveLength(32);
  });

  it("splits a long queue into transactions of at most maxBatch", async () => {
    const sink = new RecordingSink();
    const sizes: number[] = [];
    const writer = new FeedbackWriter(sink, { maxBatch: 10, onBatch: (size) => sizes.push(size) });
    await Promise.all(Array.from({ length: 25 }, () => writer.submit(newFeedback())));
    expect(sink.batches.map((b) => b.length)).toEqual([10, 10, 5]);
    expect(sizes).toEqual([10, 10, 5]);
  });

  it("rejects every caller of a failed transaction and keeps working afterwards", async () => {
    const sink = new RecordingSink();
    const writer = new FeedbackWriter(sink);
    sink.failNext = new Error("disk I/O error");
    const failed = await Promise.allSettled([writer.submit(newFeedback()), writer.submit(newFeedback())]);
    expect(failed.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(sink.committed.size).toBe(0);
    await expect(writer.submit(newFeedback())).resolves.toMatchObject({ stored: true });
  });

  it("flushes what is queued on close and refuses new work", async () => {
    const sink = new RecordingSink();
    const writer = new FeedbackWriter(sink, { schedule: () => undefined });
    const pending = writer.submit(newFeedback());
    await writer.close();
    await expect(pending).resolves.toMatchObject({ stored: true });
    await expect(writer.submit(newFeedback())).rejects.toBeInstanceOf(FeedbackWriterClosedError);
  });

  it("keeps one transaction in flight and makes everything that arrives meanwhile the next one", async () => {
    const commits: { size: number; finish: () => void }[] = [];
    const sink: FeedbackBatchSink = {
      insertMany: (entries) =>
        new Promise<InsertOutcome[]>((resolve) => {
          commits.push({
            size: entries.length,
            finish: () =>
              resolve(entries.map((e, i) => ({ stored: true, seq: i + 1, feedbackId: e.feedbackId }))),
          });
        }),
    };
    const writer = new FeedbackWriter(sink);
    const first = [writer.submit(newFeedback()), writer.submit(newFeedback())];
    await new Promise((resolve) => setImmediate(resolve));
    expect(commits.map((c) => c.size)).toEqual([2]);
    const second = Array.from({ length: 5 }, () => writer.submit(newFeedback()));
    await new Promise((resolve) => setImmediate(resolve));
    // Nothing new starts while the first transaction is in flight, and nobody is acknowledged.
    expect(commits.map((c) => c.size)).toEqual([2]);
    expect(writer.queued).toBe(5);
    commits[0]?.finish();
    await Promise.all(first);
    expect(commits.map((c) => c.size)).toEqual([2, 5]);
    const closing = writer.close();
    commits[1]?.finish();
    await Promise.all(second);
    await closing;
  });
});
