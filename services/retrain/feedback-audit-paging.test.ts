import { randomUUID } from "node:crypto";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ListFeedbackAuditResponse } from "../gen/liver/v1/retrain_service.js";
import { AUDIT_PAGE_BYTES, FeedbackReview } from "./feedback-review.js";
import { FeedbackReviewStore } from "./store/feedback-review-store.js";
import { FeedbackStore } from "./store/feedback-store.js";
import { newFeedback } from "./testing/retrain-fixtures.js";
import { useTempStore } from "./testing/temp-store.js";

describe("ListFeedbackAudit pages", () => {
  const database = useTempStore();

  it("end before 2 MiB, so a page of the largest entries still fits grpcurl's 4 MiB limit", () => {
    const db = database();
    // 64-character ids make each entry as large as an entry can be: 1,000 selected and 1,000 changed ids.
    const rows = Array.from({ length: 1_000 }, () =>
      newFeedback({ feedbackId: `${randomUUID()}-${randomUUID()}`.slice(0, 64) }),
    );
    new FeedbackStore(db).insertMany(rows);
    const review = new FeedbackReview({
      store: new FeedbackReviewStore(db),
      scheduler: { request: () => false },
      logger: pino({ level: "silent" }),
    });
    const feedbackIds = rows.map((row) => row.feedbackId);
    for (let i = 0; i < 60; i++) {
      const selector = { feedbackIds, source: "", received: undefined };
      if (i % 2 === 0) review.excludeFeedback({ selector, reason: `round ${i}` }, "op");
      else review.releaseFeedback({ selector, reason: `round ${i}` }, "op");
    }
    const seen = new Set<number>();
    let pageToken = "";
    let pages = 0;
    do {
      const page = review.listFeedbackAudit({ pageSize: 0, pageToken });
      expect(ListFeedbackAuditResponse.encode(page).finish().byteLength).toBeLessThan(
        AUDIT_PAGE_BYTES + 200_000,
      );
      expect(page.entries.length).toBeGreaterThan(0);
      for (const entry of page.entries) seen.add(entry.seq);
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "");
    expect(seen.size).toBe(60);
    expect(pages).toBeGreaterThan(1);
  });
});
