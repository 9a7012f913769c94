import { describe, expect, it } from "vitest";
import { SOURCE_WINDOW_MS, SourceRateLimiter } from "./source-rate-limiter.js";

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe("SourceRateLimiter", () => {
  it("grants up to the limit per source per sliding hour, then says when the oldest leaves the window", () => {
    const time = clock();
    const limiter = new SourceRateLimiter({ perWindow: 3, now: time.now });
    for (let i = 0; i < 3; i++) {
      expect(limiter.take("a").allowed).toBe(true);
      time.advance(1_000);
    }
    const refused = limiter.take("a");
    expect(refused).toEqual({ allowed: false, retryAfterMs: SOURCE_WINDOW_MS - 3_000 });
    expect(limiter.take("b").allowed).toBe(true);
    time.advance(SOURCE_WINDOW_MS - 3_000);
    expect(limiter.take("a").allowed).toBe(true);
    expect(limiter.take("a").allowed).toBe(false);
  });

  it("gives a released slot back (a duplicate or a failed commit costs nothing)", () => {
    const limiter = new SourceRateLimiter({ perWindow: 1, now: clock().now });
    const first = limiter.take("a");
    expect(first.allowed).toBe(true);
    if (first.allowed) {
      first.grant.release();
      first.grant.release();
    }
    expect(limiter.take("a").allowed).toBe(true);
    expect(limiter.take("a").allowed).toBe(false);
  });

  it("counts arrivals seeded from the store, so a restart does not reset a source", () => {
    const time = clock(10 * SOURCE_WINDOW_MS);
    const limiter = new SourceRateLimiter({ perWindow: 2, now: time.now });
    limiter.seed([
      { source: "a", receivedAtMs: time.now() - 10_000 },
      { source: "a", receivedAtMs: time.now() - 20_000 },
      { source: "b", receivedAtMs: time.now() - SOURCE_WINDOW_MS - 1 },
    ]);
    expect(limiter.take("a")).toEqual({ allowed: false, retryAfterMs: SOURCE_WINDOW_MS - 20_000 });
    expect(limiter.take("b").allowed).toBe(true);
  });

  it("never refuses when the limit is 0", () => {
    const limiter = new SourceRateLimiter({ perWindow: 0, now: clock().now });
    limiter.seed([{ source: "a", receivedAtMs: 1_000_000 }]);
    for (let i = 0; i < 10_000; i++) expect(limiter.take("a").allowed).toBe(true);
    expect(limiter.enabled).toBe(false);
    expect(limiter.trackedSources).toBe(0);
  });

  it("forgets idle sources, so memory follows active senders only", () => {
    const time = clock();
    const limiter = new SourceRateLimiter({ perWindow: 5, now: time.now });
    for (let i = 0; i < 1000; i++) limiter.take(`source-${i}`);
    expect(limiter.trackedSources).toBe(1000);
    time.advance(SOURCE_WINDOW_MS + 1);
    for (let i = 0; i < 100; i++) limiter.take("active");
    expect(limiter.trackedSources).toBe(1);
  });
});
