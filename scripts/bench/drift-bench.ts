/**
 * Calibration drift per site: how often the O / E alarm fires on calibrated sites (false
 * alarms, about 5 % expected of a 95 % interval) and on sites whose outcomes run off their
 * answers (power), over seeded windows of DRIFT_WINDOW verdicts; and what it costs the
 * RetrainService: reading every site's window from a store of many verdicts (once per
 * serving version, or after a review) and a report (each scrape and GetRetrainStatus).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  DRIFT_WINDOW,
  SiteCalibrationDrift,
  judgeDrift,
} from "../../services/retrain/site-calibration-drift.js";
import { openSqliteStore } from "../../services/retrain/store/sqlite-store.js";
import type { BenchContext, BenchSection } from "./bench-harness.js";

export const order = 27;

/** Deterministic uniform [0, 1) numbers (mulberry32). */
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

/** z for a two-sided 95 % interval. */
const Z95 = 1.959_963_984_540_054;

/**
 * The rejected alternative, for comparison: Byar's approximation to the exact Poisson
 * interval on O (var(O) = E), as multicentre validation studies often use for O / E.
 */
function byarAlarm(observed: number, expected: number): boolean {
  const low =
    observed === 0
      ? 0
      : (observed * (1 - 1 / (9 * observed) - Z95 / (3 * Math.sqrt(observed))) ** 3) / expected;
  const next = observed + 1;
  const high = (next * (1 - 1 / (9 * next) + Z95 / (3 * Math.sqrt(next))) ** 3) / expected;
  return low > 1 || high < 1;
}

/**
 * Shares of `windows` seeded windows that alarm when outcomes occur at `shift` x the served
 * probability: by the service's interval, and by Byar's.
 */
function alarmRate(windows: number, shift: number): { served: number; byar: number } {
  let alarms = 0;
  let byar = 0;
  for (let seed = 1; seed <= windows; seed++) {
    const next = random(seed * 7919 + Math.round(shift * 1000));
    const labels: (0 | 1)[] = [];
    const probabilities: number[] = [];
    for (let i = 0; i < DRIFT_WINDOW; i++) {
      const p = 0.05 + 0.9 * next();
      probabilities.push(p);
      labels.push(next() < Math.min(1, shift * p) ? 1 : 0);
    }
    const drift = judgeDrift("site", labels, probabilities);
    if (drift.alarm) alarms++;
    if (byarAlarm(drift.observed, drift.expected)) byar++;
  }
  return { served: alarms / windows, byar: byar / windows };
}

async function run(context: BenchContext): Promise<void> {
  const windows = context.quick ? 500 : 2_000;
  for (const shift of [1, 0.9, 0.8, 0.7, 1.2, 1.3]) {
    const rate = alarmRate(windows, shift);
    context.note(
      `outcomes at ${shift.toFixed(1)} x the served probability: alarm in ${(rate.served * 100).toFixed(1)} % ` +
        `of ${windows} windows of ${DRIFT_WINDOW} (Poisson-binomial), ${(rate.byar * 100).toFixed(1)} % (Byar)`,
    );
  }

  const sites = 50;
  const rows = context.quick ? 20_000 : 200_000;
  const dir = mkdtempSync(path.join(tmpdir(), "drift-bench-"));
  const db = openSqliteStore(path.join(dir, "retrain.sqlite"));
  try {
    const insert = db.prepare<[number, string, string, number, number, string, string]>(
      `INSERT INTO feedback (seq, feedback_id, prediction_id, verdict, label, features, predicted_diagnosis,
         probability, model_version, issued_at_ms, received_at_ms, state, site)
       VALUES (?, ?, ?, 1, ?, x'00', 1, ?, ?, 0, 0, 'trained', ?)`,
    );
    const next = random(1);
    db.transaction(() => {
      for (let i = 0; i < rows; i++) {
        const p = next();
        // Half the rows are on an older version, which the window must skip.
        insert.run(
          i + 1,
          `f${i}`,
          `p${i}`,
          next() < p ? 1 : 0,
          p,
          i % 2 === 0 ? "v1" : "v2",
          `site-${i % sites}`,
        );
      }
    })();
    const drift = new SiteCalibrationDrift(db);
    await context.time(`read ${sites} sites' windows from ${rows} stored verdicts`, () => {
      drift.invalidate();
      drift.report("v2");
    });
    await context.time(`1000 reports of ${sites} sites (scrapes, GetRetrainStatus)`, () => {
      for (let i = 0; i < 1000; i++) drift.report("v2");
    });
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const section: BenchSection = { title: "Calibration drift per site (O / E alarm)", run };
