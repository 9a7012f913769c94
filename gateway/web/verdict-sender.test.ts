import { describe, expect, it } from "vitest";
import { waitUntil } from "../../services/predict/testing/wait-until.js";
import { Backoff } from "./src/backoff.js";
import {
  FeedbackState,
  FeedbackVerdict,
  type SubmitFeedbackResponse,
} from "./src/gen/liver/v1/retrain_service.js";
import { GrpcCode, GrpcWebError } from "./src/grpc-status.js";
import { describeRefusal, describeWaiting } from "./src/outbox-panel.js";
import { VerdictOutbox, type OutboxStorage } from "./src/verdict-outbox.js";
import {
  ATTEMPT_DEADLINE_MS,
  describeWaitReason,
  isRefusedForGood,
  VerdictSender,
  type OutboxSnapshot,
} from "./src/verdict-sender.js";

class MemoryStorage implements OutboxStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
}

const PATH = "/liver.v1.RetrainService/SubmitFeedback";
const down = (): GrpcWebError => new GrpcWebError(GrpcCode.UNAVAILABLE, "connect ECONNREFUSED", PATH);

/**
 * A feedback service stand-in: stores each token once (a repeat is a duplicate, as the real
 * one answers), and fails while `failure` is set.
 */
class FakeFeedbackService {
  readonly stored = new Set<string>();
  readonly calls: { token: string; timeoutMs: number }[] = [];
  failure: (() => GrpcWebError) | undefined;
  /** Stores, then fails: the answer is lost after the commit. */
  loseAnswers = 0;

  send = (token: string, _verdict: FeedbackVerdict, timeoutMs: number): Promise<SubmitFeedbackResponse> => {
    this.calls.push({ token, timeoutMs });
    if (this.failure !== undefined) return Promise.reject(this.failure());
    const duplicate = this.stored.has(token);
    this.stored.add(token);
    if (this.loseAnswers > 0) {
      this.loseAnswers--;
      return Promise.reject(new GrpcWebError(GrpcCode.UNAVAILABLE, "the connection dropped", PATH));
    }
    return Promise.resolve({
      feedbackId: `f-${token}`,
      retrainScheduled: !duplicate,
      duplicate,
      modelVersion: "v1",
      state: FeedbackState.FEEDBACK_STATE_TRAINED,
      stateReason: "",
    });
  };
}

function setup(principal: () => string | undefined = () => "") {
  const storage = new MemoryStorage();
  const service = new FakeFeedbackService();
  const snapshots: OutboxSnapshot[] = [];
  const make = () => {
    const sender = new VerdictSender(
      new VerdictOutbox(storage),
      service.send,
      () => Promise.resolve(principal()),
      // Fast retries: the test waits for conditions, never for time.
      { backoff: new Backoff({ initialMs: 5, maxMs: 20 }) },
    );
    sender.onChange((snapshot) => snapshots.push(snapshot));
    return sender;
  };
  return { storage, service, snapshots, make };
}

const verdictOn = (id: string) => ({
  predictionId: id,
  feedbackToken: id,
  verdict: FeedbackVerdict.FEEDBACK_VERDICT_CORRECT,
  label: `the 60.0 % answer of model v1 (prediction ${id})`,
});

describe("VerdictSender", () => {
  it("sends at once with the attempt deadline and resolves with the acknowledgement", async () => {
    const { service, make } = setup();
    const sender = make();
    const response = await sender.submit(verdictOn("a"));
    expect(response.duplicate).toBe(false);
    expect(service.calls).toEqual([{ token: "a", timeoutMs: ATTEMPT_DEADLINE_MS }]);
    expect(sender.isWaiting("a")).toBe(false);
  });

  it("keeps verdicts through an outage, says what waits and why, and sends each exactly once when the service is back", async () => {
    const { service, snapshots, make } = setup();
    service.failure = down;
    const sender = make();
    const first = sender.submit(verdictOn("a"));
    const second = sender.submit(verdictOn("b"));
    const waiting = await waitUntil("two verdicts waiting", () =>
      snapshots.find((s) => s.waiting === 2 && s.waitReason !== undefined),
    );
    expect(describeWaiting(waiting, Date.now())).toMatch(
      /^2 verdicts waiting to be sent; the feedback service is unreachable\. .*kept in this browser/,
    );
    expect(sender.isWaiting("a")).toBe(true);
    await waitUntil("a few retries", () => service.calls.length >= 4);
    service.failure = undefined;
    await expect(first).resolves.toMatchObject({ duplicate: false });
    await expect(second).resolves.toMatchObject({ duplicate: false });
    expect([...service.stored].sort()).toEqual(["a", "b"]);
    const done = await waitUntil("the gone report", () => snapshots.find((s) => s.sentAfterWaiting === 2));
    expect(done.waiting).toBe(0);
  });

  it("sends what an earlier page left in storage (a reload or a closed tab)", async () => {
    const { service, make } = setup();
    service.failure = down;
    const before = make();
    void before.submit(verdictOn("a"));
    await waitUntil("a failed attempt", () => service.calls.length >= 1);
    service.failure = undefined;
    // The page is gone; a new one opens on the same storage.
    const after = make();
    after.start();
    await waitUntil("the verdict stored", () => service.stored.has("a"));
    await waitUntil("the queue empty", () => !after.isWaiting("a"));
  });

  it("reports a verdict whose answer was lost after the commit as recorded, via the duplicate on retry", async () => {
    const { service, make } = setup();
    service.loseAnswers = 1;
    const response = await make().submit(verdictOn("a"));
    expect(response.duplicate).toBe(true);
    expect(service.stored.size).toBe(1);
  });

  it("drops a verdict the server refuses for good, rejects its waiter and keeps the refusal to tell", async () => {
    const { service, snapshots, make } = setup();
    service.failure = () => new GrpcWebError(GrpcCode.FAILED_PRECONDITION, "feedback_token expired", PATH);
    const sender = make();
    await expect(sender.submit(verdictOn("a"))).rejects.toMatchObject({ code: GrpcCode.FAILED_PRECONDITION });
    expect(sender.isWaiting("a")).toBe(false);
    const refused = await waitUntil("the refusal reported", () => snapshots.at(-1)?.refused[0]);
    expect(describeRefusal(refused)).toBe(
      "Your “correct” verdict on the 60.0 % answer of model v1 (prediction a) was refused and not stored: feedback_token expired",
    );
    expect(describeRefusal({ ...refused, earlierAttempts: 2 })).toMatch(
      /was refused: feedback_token expired\. An earlier attempt may have been recorded before\.$/,
    );
    sender.dismiss("a");
    expect(sender.snapshot().refused).toEqual([]);
    expect(service.calls).toHaveLength(1);
  });

  it("never sends a verdict under another principal's session, and sends it when its clinician is back", async () => {
    let who = "idp|alice";
    const { service, make, snapshots } = setup(() => who);
    service.failure = down;
    const alice = make();
    void alice.submit(verdictOn("a"));
    await waitUntil("a failed attempt", () => service.calls.length >= 1);
    const attempts = service.calls.length;
    // Bob signs in on the same browser; the service is back.
    who = "idp|bob";
    service.failure = undefined;
    const bob = make();
    bob.start();
    alice.wake();
    const held = await waitUntil("bob's page sees a held verdict", () =>
      snapshots.find((s) => s.heldForOthers === 1 && s.waiting === 0),
    );
    expect(held.heldForOthers).toBe(1);
    // Give a wrong send every chance to happen before checking it did not.
    bob.wake();
    alice.wake();
    await waitUntil("both idle", () => snapshots.filter((s) => s.heldForOthers === 1).length >= 3);
    expect(service.calls.length).toBe(attempts);
    expect(service.stored.size).toBe(0);
    who = "idp|alice";
    bob.wake();
    await waitUntil("alice's verdict stored", () => service.stored.has("a"));
    expect(service.calls.at(-1)?.token).toBe("a");
  });

  it("waits while the gateway cannot say who is signed in, instead of guessing", async () => {
    const session: { principal: string | undefined } = { principal: undefined };
    const { service, make, snapshots } = setup(() => session.principal);
    const sender = make();
    sender.start();
    const storageEntry = sender.submit(verdictOn("a"));
    const waiting = await waitUntil("waiting for the principal", () =>
      snapshots.find((s) => s.waiting === 1 && s.waitReason !== undefined),
    );
    expect(waiting.waitReason).toBe("the feedback service is unreachable");
    expect(service.calls).toEqual([]);
    session.principal = "";
    sender.wake();
    await expect(storageEntry).resolves.toMatchObject({ duplicate: false });
  });
});

describe("what counts as refused for good", () => {
  it("retries outages, deadlines, throttling and a lost session; refuses bad, expired and foreign tokens", () => {
    const error = (code: number) => new GrpcWebError(code, "x", PATH);
    for (const code of [
      GrpcCode.UNAVAILABLE,
      GrpcCode.DEADLINE_EXCEEDED,
      GrpcCode.RESOURCE_EXHAUSTED,
      GrpcCode.UNAUTHENTICATED,
      GrpcCode.UNKNOWN,
      GrpcCode.INTERNAL,
      GrpcCode.CANCELLED,
    ])
      expect(isRefusedForGood(error(code)), String(code)).toBe(false);
    for (const code of [GrpcCode.INVALID_ARGUMENT, GrpcCode.PERMISSION_DENIED, GrpcCode.FAILED_PRECONDITION])
      expect(isRefusedForGood(error(code)), String(code)).toBe(true);
    expect(describeWaitReason(error(GrpcCode.UNAUTHENTICATED))).toMatch(/sign in again/);
    expect(describeWaitReason(error(GrpcCode.DEADLINE_EXCEEDED))).toBe(
      "the feedback service did not answer in time",
    );
  });
});
