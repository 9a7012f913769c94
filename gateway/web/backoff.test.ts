import { describe, expect, it, vi } from "vitest";
import { Backoff, delay } from "./src/backoff.js";

describe("Backoff", () => {
  it("doubles from the initial delay up to the cap, and starts over after reset", () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 500, jitter: 0 });
    expect([1, 2, 3, 4, 5].map(() => backoff.next())).toEqual([100, 200, 400, 500, 500]);
    expect(backoff.attempts).toBe(5);
    backoff.reset();
    expect(backoff.next()).toBe(100);
  });

  it("jitters downwards only, within the configured fraction", () => {
    const low = new Backoff({ initialMs: 1000, jitter: 0.2, random: () => 0.999999 });
    const high = new Backoff({ initialMs: 1000, jitter: 0.2, random: () => 0 });
    expect(low.next()).toBe(800);
    expect(high.next()).toBe(1000);
  });

  it("refuses settings that would never wait or never grow", () => {
    expect(() => new Backoff({ initialMs: 0 })).toThrow(/initialMs > 0/);
    expect(() => new Backoff({ initialMs: 100, maxMs: 50 })).toThrow(/maxMs >= initialMs/);
    expect(() => new Backoff({ factor: 0.5 })).toThrow(/factor >= 1/);
    expect(() => new Backoff({ jitter: 2 })).toThrow(/jitter must be 0 to 1/);
  });
});

describe("delay", () => {
  it("resolves early when its signal aborts", async () => {
    // Fake timers: the 60 s timer can never fire, so only the abort can settle the promise.
    vi.useFakeTimers();
    try {
      const controller = new AbortController();
      let settled = false;
      const waiting = delay(60_000, controller.signal).then(() => (settled = true));
      await Promise.resolve();
      expect(settled).toBe(false);
      controller.abort();
      await waiting;
      expect(settled).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it("resolves at once for an already aborted signal", async () => {
    await expect(delay(60_000, AbortSignal.abort())).resolves.toBeUndefined();
  });
});
