import { randomUUID } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import { FEATURE_COUNT } from "../../shared/features/feature-schema.js";
import { newFeedback } from "../testing/retrain-fixtures.js";
import { useTempStore } from "../testing/temp-store.js";
import { FeedbackStore } from "./feedback-store.js";

describe("FeedbackStore", () => {
  const database = useTempStore();
  let store: FeedbackStore;
  beforeEach(() => {
    store = new FeedbackStore(database());
  });

  it("stores a batch and reads every field back", () => {
    const first = newFeedback({ verdict: 2, label: 0, predictedDiagnosis: 1 });
    const second = newFeedback({ verdict: 3, label: null });
    const outcomes = store.insertMany([first, second]);
    expect(outcomes.map((o) => o.stored)).toEqual([true, true]);
    const back = store.byPredictionId(first.predictionId);
    // The principal is not a column of this table's schema (the feedback-attribution schema adds it).
    const { principal: _principal, ...columns } = first;
    expect(back).toMatchObject({ ...columns, features: first.features });
    expect(Array.from(back?.features ?? [])).toEqual(Array.from(first.features));
    expect(store.byPredictionId(second.predictionId)?.label).toBeNull();
  });

  it("answers a repeat for the same prediction with the earlier id and stores nothing", () => {
    const original = newFeedback();
    const [stored] = store.insertMany([original]);
    const [repeat, alsoRepeat] = store.insertMany([
      newFeedback({ predictionId: original.predictionId, verdict: 2, label: 0 }),
      newFeedback({ predictionId: original.predictionId, verdict: 3, label: null }),
    ]);
    expect(stored).toMatchObject({ stored: true, feedbackId: original.feedbackId });
    const earlier = { stored: false, feedbackId: original.feedbackId, state: "trained", stateReason: "" };
    expect(repeat).toEqual(earlier);
    expect(alsoRepeat).toEqual(earlier);
    expect(store.counts()).toEqual({ correct: 1, wrong: 0, unknown: 0 });
  });

  it("catches a repeat inside one batch", () => {
    const predictionId = randomUUID();
    const outcomes = store.insertMany([newFeedback({ predictionId }), newFeedback({ predictionId })]);
    expect(outcomes.map((o) => o.stored)).toEqual([true, false]);
  });

  it("counts by verdict and returns only labelled rows up to a snapshot, in order", () => {
    const rows = [
      newFeedback({ verdict: 1, label: 1 }),
      newFeedback({ verdict: 3, label: null }),
      newFeedback({ verdict: 2, label: 0 }),
      newFeedback({ verdict: 1, label: 0 }),
    ];
    const outcomes = store.insertMany(rows);
    const seqs = outcomes.map((o) => (o.stored ? o.seq : -1));
    expect(store.counts()).toEqual({ correct: 2, wrong: 1, unknown: 1 });
    expect(store.maxLabelledSeq()).toBe(seqs[3]);
    const upToThird = store.labelledRows(seqs[2] ?? 0);
    expect(upToThird.rows).toBe(2);
    expect(Array.from(upToThird.labels)).toEqual([1, 0]);
    expect(Array.from(upToThird.features.subarray(FEATURE_COUNT, 2 * FEATURE_COUNT))).toEqual(
      Array.from(rows[2]?.features ?? []),
    );
    expect(store.labelledCountBetween(seqs[0] ?? 0)).toBe(2);
    expect(store.labelledCountBetween(0, seqs[1] ?? 0)).toBe(1);
  });

  it("trains only 'trained' rows: quarantined ones are stored, counted by verdict, and held back", () => {
    const outcomes = store.insertMany([
      newFeedback({ label: 1, source: "203.0.113.9" }),
      newFeedback({ label: 0, source: "198.51.100.7", state: "quarantined", stateReason: "out of range" }),
      newFeedback({ label: 0, source: "198.51.100.8" }),
      newFeedback({ label: null, verdict: 3, state: "trained" }),
    ]);
    const seqs = outcomes.map((o) => (o.stored ? o.seq : -1));
    expect(store.counts()).toEqual({ correct: 3, wrong: 0, unknown: 1 });
    expect(store.maxLabelledSeq()).toBe(seqs[2]);
    expect(store.labelledCountBetween(0)).toBe(2);
    const rows = store.labelledRows(Number.MAX_SAFE_INTEGER);
    expect(rows.rows).toBe(2);
    expect(rows.sources).toEqual(["203.0.113.9", "198.51.100.8"]);
    const all = [...store.all()];
    expect(all.map((f) => f.state)).toEqual(["trained", "quarantined", "trained", "unlabelled"]);
    expect(all[1]).toMatchObject({
      stateReason: "out of range",
      source: "198.51.100.7",
      peer: "127.0.0.1:50000",
    });
  });

  it("rolls the whole batch back when one row breaks a constraint", () => {
    const good = newFeedback();
    expect(() => store.insertMany([good, newFeedback({ label: 7 as 0 })])).toThrow(/CHECK constraint/);
    expect(store.byPredictionId(good.predictionId)).toBeUndefined();
    expect([...store.all()]).toHaveLength(0);
  });
});
