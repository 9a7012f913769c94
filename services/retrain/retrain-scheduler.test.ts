import { describe, expect, it } from "vitest";
import {
  RetrainScheduler,
  type RunCompletion,
  type SchedulerTimers,
  type StartedRun,
} from "./retrain-scheduler.js";
import type { RunTrigger } from "./store/run-log.js";

/** Timers the test fires by hand. */
class ManualTimers implements SchedulerTimers {
  private next = 1;
  readonly pending = new Map<number, { callback: () => void; ms: number }>();
  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.next++;
    this.pending.set(id, { callback, ms });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  fireAll(): void {
    const due = [...this.pending.values()];
    this.pending.clear();
    for (const timer of due) timer.callback();
  }
}

/** A fake store of labelled feedback and runs the test finishes by hand. */
class Harness {
  seq = 0;
  readonly runs: { trigger: RunTrigger; upTo: number; finish: (result: RunCompletion) => void }[] = [];
  readonly timers = new ManualTimers();
  readonly scheduler: RetrainScheduler;

  constructor(options: { debounceMs?: number; minBatch?: number; initialPending?: number } = {}) {
    this.scheduler = new RetrainScheduler({
      debounceMs: options.debounceMs ?? 0,
      minBatch: options.minBatch ?? 1,
      initialPending: options.initialPending ?? 0,
      timers: this.timers,
      startRun: (trigger): StartedRun => {
        let finish: (result: RunCompletion) => void = () => undefined;
        const completion = new Promise<RunCompletion>((resolve) => {
          finish = resolve;
        });
        this.runs.push({ trigger, upTo: this.seq, finish });
        return { feedbackUpTo: this.seq, completion };
      },
    });
  }

  /** Commits one labelled feedback and tells the scheduler. */
  feedback(): boolean {
    this.seq++;
    return this.scheduler.recordLabelledFeedback(this.seq);
  }

  async finishRun(index: number, covered: boolean): Promise<void> {
    this.runs[index]?.finish({ covered });
    // Let the completion's continuation run.
    await Promise.resolve();
    await Promise.resolve();
  }
}

describe("RetrainScheduler", () => {
  it("starts a run for labelled feedback and reports it scheduled", () => {
    const h = new Harness();
    expect(h.feedback()).toBe(true);
    expect(h.scheduler.state).toBe("running");
    expect(h.runs).toHaveLength(1);
    expect(h.runs[0]).toMatchObject({ trigger: "feedback", upTo: 1 });
  });

  it("runs one at a time and covers everything that arrived during a run with exactly one follow-up", async () => {
    const h = new Harness();
    h.feedback();
    for (let i = 0; i < 100; i++) expect(h.feedback()).toBe(true);
    expect(h.runs).toHaveLength(1);
    expect(h.scheduler.pendingLabelled).toBe(101);
    await h.finishRun(0, true);
    expect(h.runs).toHaveLength(2);
    expect(h.runs[1]?.upTo).toBe(101);
    expect(h.scheduler.pendingLabelled).toBe(100);
    await h.finishRun(1, true);
    expect(h.runs).toHaveLength(2);
    expect(h.scheduler.state).toBe("idle");
    expect(h.scheduler.pendingLabelled).toBe(0);
  });

  it("does not count feedback the running run's snapshot already covers for a follow-up", async () => {
    const h = new Harness();
    // Two feedbacks committed in one transaction; the run starts while recording the first.
    h.seq = 2;
    h.scheduler.recordLabelledFeedback(1);
    expect(h.runs[0]?.upTo).toBe(2);
    expect(h.scheduler.recordLabelledFeedback(2)).toBe(true);
    await h.finishRun(0, true);
    expect(h.runs).toHaveLength(1);
    expect(h.scheduler.pendingLabelled).toBe(0);
  });

  it("waits for the minimum batch, then runs on all of it", () => {
    const h = new Harness({ minBatch: 3 });
    expect(h.feedback()).toBe(false);
    expect(h.feedback()).toBe(false);
    expect(h.scheduler.state).toBe("idle");
    expect(h.feedback()).toBe(true);
    expect(h.runs).toHaveLength(1);
    expect(h.runs[0]?.upTo).toBe(3);
  });

  it("collects feedback for the debounce window before starting", () => {
    const h = new Harness({ debounceMs: 500 });
    expect(h.feedback()).toBe(true);
    expect(h.feedback()).toBe(true);
    expect(h.scheduler.state).toBe("scheduled");
    expect(h.runs).toHaveLength(0);
    expect([...h.timers.pending.values()].map((t) => t.ms)).toEqual([500]);
    h.timers.fireAll();
    expect(h.runs).toHaveLength(1);
    expect(h.runs[0]?.upTo).toBe(2);
  });

  it("keeps a failed run's feedback pending for the next run instead of retrying in a loop", async () => {
    const h = new Harness();
    h.feedback();
    h.feedback();
    await h.finishRun(0, false);
    expect(h.runs).toHaveLength(2);
    await h.finishRun(1, false);
    expect(h.runs).toHaveLength(2);
    expect(h.scheduler.state).toBe("idle");
    expect(h.scheduler.pendingLabelled).toBe(2);
    expect(h.feedback()).toBe(true);
    expect(h.runs[2]?.upTo).toBe(3);
    await h.finishRun(2, true);
    expect(h.scheduler.pendingLabelled).toBe(0);
  });

  it("queues an admin request once: a second request while one is queued is covered by it", async () => {
    const h = new Harness();
    expect(h.scheduler.request("admin")).toBe(true);
    expect(h.runs).toHaveLength(1);
    expect(h.scheduler.request("admin")).toBe(true);
    expect(h.scheduler.request("admin")).toBe(false);
    await h.finishRun(0, true);
    expect(h.runs.map((r) => r.trigger)).toEqual(["admin", "admin"]);
  });

  it("skips the debounce window for an admin request", () => {
    const h = new Harness({ debounceMs: 10_000 });
    h.feedback();
    expect(h.scheduler.state).toBe("scheduled");
    expect(h.scheduler.request("admin")).toBe(false);
    expect(h.runs).toHaveLength(1);
    expect(h.runs[0]?.trigger).toBe("admin");
    expect(h.timers.pending.size).toBe(0);
  });

  it("stops: no new runs, and stop() waits for the running one", async () => {
    const h = new Harness();
    h.feedback();
    let stopped = false;
    const stopping = h.scheduler.stop().then(() => {
      stopped = true;
    });
    expect(h.feedback()).toBe(false);
    await Promise.resolve();
    expect(stopped).toBe(false);
    await h.finishRun(0, true);
    await stopping;
    expect(h.runs).toHaveLength(1);
    expect(h.scheduler.state).toBe("idle");
  });

  it("resolves whenIdle once the queue drains", async () => {
    const h = new Harness();
    h.feedback();
    let idle = false;
    const waiting = h.scheduler.whenIdle().then(() => {
      idle = true;
    });
    h.feedback();
    await h.finishRun(0, true);
    expect(idle).toBe(false);
    await h.finishRun(1, true);
    await waiting;
    expect(idle).toBe(true);
  });
});
