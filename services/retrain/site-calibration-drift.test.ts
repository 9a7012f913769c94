import { describe, expect, it } from "vitest";
import {
  DRIFT_MIN_VERDICTS,
  DRIFT_WINDOW,
  SiteCalibrationDrift,
  judgeDrift,
  observedExpectedInterval,
} from "./site-calibration-drift.js";
import { useTempStore } from "./testing/temp-store.js";

/** Deterministic uniform [0, 1) numbers (mulberry32), so every run draws the same verdicts. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * A window of verdicts whose served probabilities are spread over [0.05, 0.95] and whose true
 * event probability is `truth(served)`: the identity is a calibrated site.
 */
function window(
  seed: number,
  n: number,
  truth: (p: number) => number,
): { labels: (0 | 1)[]; probabilities: number[] } {
  const next = random(seed);
  const labels: (0 | 1)[] = [];
  const probabilities: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = 0.05 + 0.9 * next();
    probabilities.push(p);
    labels.push(next() < truth(p) ? 1 : 0);
  }
  return { labels, probabilities };
}

/** Share of `trials` seeded windows that raise the alarm. */
function alarmRate(trials: number, truth: (p: number) => number): number {
  let alarms = 0;
  for (let seed = 1; seed <= trials; seed++) {
    const w = window(seed, DRIFT_WINDOW, truth);
    if (judgeDrift("north", w.labels, w.probabilities).alarm) alarms++;
  }
  return alarms / trials;
}

describe("observedExpectedInterval", () => {
  it("is O ± 1.96 standard deviations of O, over E, and never below 0", () => {
    // 100 answers at 0.5: E = 50, V = 25, so 50 ± 9.8 events.
    const { low, high } = observedExpectedInterval(50, 50, 25);
    expect(low).toBeCloseTo(1 - 9.8 / 50, 3);
    expect(high).toBeCloseTo(1 + 9.8 / 50, 3);
    expect(observedExpectedInterval(1, 50, 25).low).toBe(0);
    expect(observedExpectedInterval(3, 0, 0)).toEqual({ low: 0, high: 0 });
  });
});

describe("judgeDrift", () => {
  it("alarms on about 5 % of calibrated windows, as a 95 % interval should", () => {
    const rate = alarmRate(1000, (p) => p);
    expect(rate).toBeGreaterThan(0.02);
    expect(rate).toBeLessThan(0.08);
  });

  it("alarms on nearly every window when outcomes run 30 % below or 30 % above the answers", () => {
    expect(alarmRate(200, (p) => 0.7 * p)).toBeGreaterThan(0.95);
    expect(alarmRate(200, (p) => Math.min(1, 1.3 * p))).toBeGreaterThan(0.95);
  });

  it("reports the ratio in the right direction with 1 outside the interval when shifted", () => {
    const w = window(7, DRIFT_WINDOW, (p) => 0.5 * p);
    const drift = judgeDrift("north", w.labels, w.probabilities);
    expect(drift.verdicts).toBe(DRIFT_WINDOW);
    expect(drift.ratio).toBeLessThan(0.75);
    expect(drift.high).toBeLessThan(1);
    expect(drift.alarm).toBe(true);
  });

  it("does not judge a site before it has the minimum number of verdicts", () => {
    const all = window(3, DRIFT_MIN_VERDICTS - 1, () => 1);
    const drift = judgeDrift("north", all.labels, all.probabilities);
    expect(drift.low).toBeGreaterThan(1);
    expect(drift.alarm).toBe(false);
    const enough = window(3, DRIFT_MIN_VERDICTS, () => 1);
    expect(judgeDrift("north", enough.labels, enough.probabilities).alarm).toBe(true);
  });
});

describe("SiteCalibrationDrift", () => {
  const database = useTempStore();

  function insertAll(
    db: ReturnType<typeof database>,
    rows: { site: string; label: 0 | 1 | null; probability: number; version: string; state?: string }[],
  ): void {
    const insert = db.prepare<[number, string, string, number | null, number, string, string, string]>(
      `INSERT INTO feedback (seq, feedback_id, prediction_id, verdict, label, features, predicted_diagnosis,
         probability, model_version, issued_at_ms, received_at_ms, state, site)
       VALUES (?, ?, ?, 1, ?, x'00', 1, ?, ?, 0, 0, ?, ?)`,
    );
    rows.forEach((r, i) =>
      insert.run(
        i + 1,
        `f${i}`,
        `p${i}`,
        r.label,
        r.probability,
        r.version,
        r.state ?? (r.label === null ? "unlabelled" : "trained"),
        r.site,
      ),
    );
  }

  it("loads each site's newest labelled verdicts on the serving version, then follows new ones", () => {
    const db = database();
    const rows: {
      site: string;
      label: 0 | 1 | null;
      probability: number;
      version: string;
      state?: string;
    }[] = [];
    // 250 old-version verdicts that must not count, then 250 on v2 for "north" (only the
    // newest 200 count), some excluded or unlabelled that must not count either.
    for (let i = 0; i < 250; i++) rows.push({ site: "north", label: 1, probability: 0.9, version: "v1" });
    for (let i = 0; i < 250; i++)
      rows.push({ site: "north", label: i < 50 ? 1 : 0, probability: 0.5, version: "v2" });
    rows.push({ site: "north", label: 1, probability: 0.5, version: "v2", state: "excluded" });
    rows.push({ site: "north", label: null, probability: 0.5, version: "v2" });
    rows.push({ site: "default", label: 1, probability: 0.5, version: "v2", state: "quarantined" });
    insertAll(db, rows);
    const drift = new SiteCalibrationDrift(db);
    const report = drift.report("v2");
    expect(report.map((d) => d.site)).toEqual(["default", "north"]);
    const north = report[1];
    // The newest 200 on v2 are all 0s: O = 0, E = 100.
    expect(north).toMatchObject({ verdicts: 200, observed: 0, expected: 100, ratio: 0, alarm: true });
    expect(report[0]).toMatchObject({ verdicts: 1, observed: 1, alarm: false });
    // New verdicts on the serving version slide the window; others are ignored.
    for (let i = 0; i < 200; i++) drift.record("v2", "north", 1, 1);
    drift.record("v1", "north", 0, 0);
    expect(drift.report("v2")[1]).toMatchObject({
      verdicts: 200,
      observed: 200,
      expected: 200,
      alarm: false,
    });
  });

  it("rereads the table after invalidate, so verdicts excluded by review stop counting", () => {
    const db = database();
    insertAll(
      db,
      Array.from({ length: 60 }, () => ({
        site: "north",
        label: 1 as const,
        probability: 0.5,
        version: "v1",
      })),
    );
    const drift = new SiteCalibrationDrift(db);
    expect(drift.report("v1")[0]).toMatchObject({ verdicts: 60, observed: 60, alarm: true });
    db.prepare("UPDATE feedback SET state = 'excluded' WHERE seq <= 30").run();
    expect(drift.report("v1")[0]?.verdicts).toBe(60);
    drift.invalidate();
    expect(drift.report("v1")[0]).toMatchObject({ verdicts: 30, observed: 30, alarm: false });
  });

  it("tracks at most maxSites other sites and never an invalid site name or probability", () => {
    const db = database();
    insertAll(db, [
      { site: "a", label: 1, probability: 0.5, version: "v1" },
      { site: "b", label: 1, probability: 0.5, version: "v1" },
      { site: "b", label: 1, probability: 0.5, version: "v1" },
      { site: "Bad Site", label: 1, probability: 0.5, version: "v1" },
    ]);
    const drift = new SiteCalibrationDrift(db, { maxSites: 1 });
    expect(drift.report("v1").map((d) => d.site)).toEqual(["b"]);
    drift.record("v1", "c", 1, 0.5);
    drift.record("v1", "default", 1, 0.5);
    drift.record("v1", "b", 1, 2);
    drift.record("v1", "b", 1, Number.NaN);
    drift.record("v1", "x".repeat(64), 1, 0.5);
    const report = drift.report("v1");
    expect(report.map((d) => d.site)).toEqual(["default", "b"]);
    expect(report[1]?.verdicts).toBe(2);
    expect(drift.report("")).toEqual([]);
  });
});
