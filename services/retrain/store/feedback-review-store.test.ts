import { beforeEach, describe, expect, it } from "vitest";
import { newFeedback } from "../testing/retrain-fixtures.js";
import { useTempStore } from "../testing/temp-store.js";
import { MAX_AUDITED_IDS, type FeedbackSelection } from "./feedback-audit-log.js";
import { FeedbackReviewStore, FeedbackSelectionError, type FeedbackFilter } from "./feedback-review-store.js";
import { FeedbackStore, type NewFeedback } from "./feedback-store.js";

const ANY: FeedbackFilter = {
  receivedFromMs: undefined,
  receivedBeforeMs: undefined,
  source: "",
  verdict: undefined,
  state: undefined,
};
const NONE: FeedbackSelection = {
  feedbackIds: [],
  source: "",
  receivedFromMs: undefined,
  receivedBeforeMs: undefined,
};

describe("FeedbackReviewStore", () => {
  const database = useTempStore();
  let feedback: FeedbackStore;
  let review: FeedbackReviewStore;
  beforeEach(() => {
    feedback = new FeedbackStore(database());
    review = new FeedbackReviewStore(database());
  });

  function store(rows: NewFeedback[]): void {
    feedback.insertMany(rows);
  }

  it("combines selectors (AND): one source within one time range", () => {
    store([
      newFeedback({ source: "a", receivedAtMs: 1_000 }),
      newFeedback({ source: "a", receivedAtMs: 2_000 }),
      newFeedback({ source: "b", receivedAtMs: 2_000 }),
      newFeedback({ source: "a", receivedAtMs: 3_000 }),
    ]);
    const change = review.apply(
      "exclude",
      { ...NONE, source: "a", receivedFromMs: 1_500, receivedBeforeMs: 3_000 },
      "r",
      "op",
      9,
    );
    expect(change.affected).toBe(1);
    expect(
      review
        .list({ ...ANY, state: "excluded" }, Number.MAX_SAFE_INTEGER, 10)
        .map((f) => [f.source, f.receivedAtMs]),
    ).toEqual([["a", 2_000]]);
    expect(feedback.labelledRows(Number.MAX_SAFE_INTEGER).sources).toEqual(["a", "b", "a"]);
  });

  it("changes nothing when one of the ids is unknown (the whole change is one transaction)", () => {
    const known = newFeedback();
    store([known]);
    expect(() =>
      review.apply("exclude", { ...NONE, feedbackIds: [known.feedbackId, "missing-id"] }, "r", "op"),
    ).toThrow(FeedbackSelectionError);
    expect(review.list({ ...ANY, state: "excluded" }, Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    expect(review.auditLog.list(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
  });

  it("releases quarantined and excluded rows, skips don't-know rows selected by source, and refuses them by id", () => {
    const quarantined = newFeedback({ source: "s", state: "quarantined", stateReason: "odd" });
    const unsure = newFeedback({ source: "s", verdict: 3, label: null });
    const trained = newFeedback({ source: "s" });
    store([quarantined, unsure, trained]);
    review.apply("exclude", { ...NONE, feedbackIds: [trained.feedbackId] }, "first", "op");
    const released = review.apply("release", { ...NONE, source: "s" }, "checked", "op", 5);
    expect(released).toMatchObject({ affected: 2, unlabelledSkipped: 1 });
    expect(feedback.labelledCountBetween(0)).toBe(2);
    const rows = review.list(ANY, Number.MAX_SAFE_INTEGER, 10);
    expect(rows.map((r) => [r.state, r.stateReason])).toEqual([
      ["trained", "released: checked"],
      ["unlabelled", ""],
      ["trained", "released: checked"],
    ]);
    expect(() => review.apply("release", { ...NONE, feedbackIds: [unsure.feedbackId] }, "x", "op")).toThrow(
      /don't-know verdict/,
    );
  });

  it("refuses an unknown id even beside a source: a typo must not pass as an empty change", () => {
    const known = newFeedback({ source: "s1" });
    store([known]);
    expect(() =>
      review.apply("exclude", { ...NONE, source: "s1", feedbackIds: ["typo-id"] }, "r", "op"),
    ).toThrow(/feedback_ids typo-id are not stored feedback/);
    expect(review.auditLog.list(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
  });

  it("excludes a source of 150,000 rows in one change (no argument spreading)", () => {
    store(Array.from({ length: 150_000 }, () => newFeedback({ source: "flood" })));
    const change = review.apply("exclude", { ...NONE, source: "flood" }, "flood", "op", 9);
    expect(change.affected).toBe(150_000);
    expect(review.auditLog.list(Number.MAX_SAFE_INTEGER, 1)[0]).toMatchObject({
      affectedMinSeq: 1,
      affectedMaxSeq: 150_000,
    });
  });

  it("audits a large change by its seq range instead of its ids", () => {
    const rows = Array.from({ length: MAX_AUDITED_IDS + 5 }, () => newFeedback({ source: "flood" }));
    store(rows);
    expect(review.apply("exclude", { ...NONE, source: "nobody" }, "no-op", "op", 3).affected).toBe(0);
    expect(review.auditLog.latestChangeAtMs()).toBeUndefined();
    const change = review.apply("exclude", { ...NONE, source: "flood" }, "flood", "op", 7);
    expect(change.affected).toBe(MAX_AUDITED_IDS + 5);
    const [entry] = review.auditLog.list(Number.MAX_SAFE_INTEGER, 1);
    expect(entry).toMatchObject({
      seq: change.auditSeq,
      atMs: 7,
      actor: "op",
      action: "exclude",
      affected: MAX_AUDITED_IDS + 5,
      affectedIds: [],
      affectedMinSeq: 1,
      affectedMaxSeq: MAX_AUDITED_IDS + 5,
      selection: { feedbackIds: [], source: "flood" },
    });
    expect(review.auditLog.latestChangeAtMs()).toBe(7);
    expect(feedback.maxLabelledSeq()).toBe(0);
  });
});
