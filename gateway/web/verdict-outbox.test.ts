import { describe, expect, it } from "vitest";
import { FeedbackState, FeedbackVerdict } from "./src/gen/liver/v1/retrain_service.js";
import {
  OUTBOX_STORAGE_KEY,
  parseOutboxState,
  VerdictOutbox,
  type OutboxStorage,
  type QueuedVerdict,
} from "./src/verdict-outbox.js";

/** A localStorage stand-in; `failWrites` makes setItem throw as a full or disabled storage does. */
class MemoryStorage implements OutboxStorage {
  readonly items = new Map<string, string>();
  failWrites = false;
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    if (this.failWrites) throw new DOMException("quota exceeded", "QuotaExceededError");
    this.items.set(key, value);
  }
}

const entry = (predictionId: string, principal = ""): Omit<QueuedVerdict, "attempts"> => ({
  predictionId,
  feedbackToken: `token-${predictionId}`,
  verdict: FeedbackVerdict.FEEDBACK_VERDICT_WRONG,
  principal,
  label: `the 72.9 % answer of model v1 (prediction ${predictionId})`,
  queuedAtMs: 1000,
});

const ACK = {
  feedbackId: "f1",
  retrainScheduled: true,
  duplicate: false,
  modelVersion: "v1",
  state: FeedbackState.FEEDBACK_STATE_TRAINED,
  stateReason: "",
};

describe("VerdictOutbox", () => {
  it("keeps a verdict in storage from before it is sent until it is acknowledged, across instances (a reload)", () => {
    const storage = new MemoryStorage();
    const page = new VerdictOutbox(storage);
    page.add(entry("p1"));
    page.add(entry("p2"));
    page.add(entry("p1")); // one verdict per prediction
    const reloaded = new VerdictOutbox(storage);
    expect(reloaded.queue().map((e) => e.predictionId)).toEqual(["p1", "p2"]);
    reloaded.countAttempt("p2");
    expect(page.queue().find((e) => e.predictionId === "p2")?.attempts).toBe(1);
    reloaded.acknowledge("p1", ACK, 2000);
    expect(page.isQueued("p1")).toBe(false);
    expect(page.settledResponse("p1")).toEqual(ACK);
    expect(page.durable).toBe(true);
  });

  it("moves a refused verdict out of the queue into the refusals until it is dismissed", () => {
    const outbox = new VerdictOutbox(new MemoryStorage());
    outbox.add(entry("p1", "idp|alice"));
    const [queued] = outbox.queue();
    if (queued === undefined) throw new Error("nothing queued");
    outbox.refuse(queued, "FAILED_PRECONDITION", "feedback_token expired", 3000);
    expect(outbox.queue()).toEqual([]);
    expect(outbox.state().refused).toEqual([
      {
        predictionId: "p1",
        verdict: FeedbackVerdict.FEEDBACK_VERDICT_WRONG,
        principal: "idp|alice",
        label: queued.label,
        codeName: "FAILED_PRECONDITION",
        details: "feedback_token expired",
        refusedAtMs: 3000,
        earlierAttempts: 0,
      },
    ]);
    outbox.dismiss("p1");
    expect(outbox.state().refused).toEqual([]);
  });

  it("keeps at most 50 acknowledgements, dropping the oldest", () => {
    const outbox = new VerdictOutbox(new MemoryStorage());
    for (let i = 0; i < 60; i++) outbox.acknowledge(`p${i}`, ACK, i);
    const settled = outbox.state().settled;
    expect(settled).toHaveLength(50);
    expect(settled[0]?.predictionId).toBe("p10");
  });

  it("goes on in memory and says it is not durable when storage refuses writes or is missing", () => {
    const storage = new MemoryStorage();
    storage.failWrites = true;
    const outbox = new VerdictOutbox(storage);
    outbox.add(entry("p1"));
    expect(outbox.durable).toBe(false);
    expect(outbox.queue().map((e) => e.predictionId)).toEqual(["p1"]);
    const none = new VerdictOutbox(undefined);
    none.add(entry("p2"));
    expect(none.durable).toBe(false);
    expect(none.isQueued("p2")).toBe(true);
  });

  it("reads a damaged or foreign stored value as far as it is well-formed, never throwing", () => {
    const storage = new MemoryStorage();
    const good = { ...entry("ok"), attempts: 2 };
    storage.items.set(
      OUTBOX_STORAGE_KEY,
      JSON.stringify({
        queue: [
          good,
          { ...good, verdict: 99 },
          { ...good, predictionId: 5 },
          "x",
          null,
          { ...good, attempts: "2" },
        ],
        refused: { not: "an array" },
        settled: [{ predictionId: "s", response: { ...ACK, state: 42 }, settledAtMs: 1 }],
      }),
    );
    expect(new VerdictOutbox(storage).state()).toEqual({ queue: [good], refused: [], settled: [] });
    for (const text of ["", "{", "null", "[]", "42", '{"queue": 7}', '"__proto__"'])
      expect(parseOutboxState(text)).toEqual({ queue: [], refused: [], settled: [] });
  });
});
