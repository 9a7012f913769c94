import { describe, expect, it } from "vitest";
import { FEATURE_COUNT, FEATURES } from "../shared/features/feature-schema.js";
import { loadLpdCsv } from "../shared/data/lpd-csv-loader.js";
import { Prng } from "../shared/data/prng.js";
import { generateSyntheticDataset } from "../shared/data/synthetic-dataset.js";
import { fitInputProfile } from "../shared/model/input-profile.js";
import { DATA_USED, REAL_CSV_PATH, haveRealCsv } from "../shared/testing/real-dataset.js";
import { DRIFT_WINDOW_ROWS, InputDriftMonitor } from "./input-drift-monitor.js";

const ALT = FEATURES.findIndex((spec) => spec.name === "alanine_aminotransferase");

async function trainingRows(): Promise<{ rows: number; features: Float64Array }> {
  if (haveRealCsv) return (await loadLpdCsv(REAL_CSV_PATH)).dataset;
  return generateSyntheticDataset(20_000, 3);
}

describe("InputDriftMonitor (PSI over a sliding window)", () => {
  it(`never flags 100,000 predictions drawn from the training data; flags ALT doubled at one clinic within 500, ${DATA_USED}`, async () => {
    const data = await trainingRows();
    const profile = fitInputProfile(data.rows, data.features);
    const monitor = new InputDriftMonitor();
    monitor.setProfile(profile);
    const random = new Prng(11);
    const row = new Float64Array(FEATURE_COUNT);
    let flaggedSnapshots = 0;
    let largestPsi = 0;
    for (let n = 1; n <= 100_000; n++) {
      const r = Math.floor(random.nextFloat() * data.rows);
      monitor.observe(data.features, r * FEATURE_COUNT);
      if (n % 25 === 0) {
        const state = monitor.snapshot();
        if (state.features.some((f) => f.drifted)) flaggedSnapshots++;
        for (const f of state.features) if (Number.isFinite(f.psi)) largestPsi = Math.max(largestPsi, f.psi);
      }
    }
    console.log(
      `largest PSI over 100,000 training draws (window ${DRIFT_WINDOW_ROWS}): ${largestPsi.toFixed(4)}`,
    );
    expect(flaggedSnapshots).toBe(0);
    expect(largestPsi).toBeLessThan(0.25);

    // One clinic: 300 patients of the training data whose ALT reads double. The window is
    // full of ordinary patients when they start arriving.
    const clinic = Array.from({ length: 300 }, () => Math.floor(random.nextFloat() * data.rows));
    let flaggedAfter: number | undefined;
    for (let n = 1; n <= 2_000 && flaggedAfter === undefined; n++) {
      const r = clinic[Math.floor(random.nextFloat() * clinic.length)] ?? 0;
      row.set(data.features.subarray(r * FEATURE_COUNT, (r + 1) * FEATURE_COUNT));
      row[ALT] = (row[ALT] ?? 0) * 2;
      monitor.observe(row, 0);
      const state = monitor.snapshot();
      if (state.features.some((f) => f.drifted)) {
        flaggedAfter = n;
        expect(state.features.filter((f) => f.drifted).map((f) => f.name)).toEqual([
          "alanine_aminotransferase",
        ]);
        expect(state.features[ALT]?.driftingSince).toBeInstanceOf(Date);
      }
    }
    console.log(`ALT doubled at one clinic: flagged after ${flaggedAfter ?? "never"} predictions`);
    expect(flaggedAfter).toBeDefined();
    expect(flaggedAfter).toBeLessThanOrEqual(500);
  });

  it("takes at most 64 evenly spaced rows of a batch", () => {
    const data = generateSyntheticDataset(1_000, 4);
    const monitor = new InputDriftMonitor({ minRows: 10 });
    monitor.setProfile(fitInputProfile(data.rows, data.features));
    monitor.observeBatch(data.features, 10);
    expect(monitor.snapshot().windowRows).toBe(10);
    monitor.observeBatch(data.features, 1_000);
    expect(monitor.snapshot().windowRows).toBe(74);
    monitor.observeBatch(data.features, 0);
    expect(monitor.snapshot().windowRows).toBe(74);
  });

  it("judges nothing before the window has enough rows, and nothing without a profile", () => {
    const data = generateSyntheticDataset(2_000, 5);
    const monitor = new InputDriftMonitor({ minRows: 50 });
    monitor.observe(data.features, 0);
    expect(monitor.snapshot()).toMatchObject({ measured: false, windowRows: 0, features: [] });
    monitor.setProfile(fitInputProfile(data.rows, data.features));
    const skewed = new Float64Array(FEATURE_COUNT).fill(1e6);
    for (let n = 0; n < 49; n++) monitor.observe(skewed, 0);
    const early = monitor.snapshot();
    expect(early.windowRows).toBe(49);
    expect(early.features.every((f) => Number.isNaN(f.psi) && !f.drifted)).toBe(true);
    monitor.observe(skewed, 0);
    expect(monitor.snapshot().features.every((f) => f.drifted)).toBe(true);
  });

  it("clears a flag only once PSI falls below the clearing level, and keeps its window across a model swap", () => {
    const data = generateSyntheticDataset(5_000, 6);
    const profile = fitInputProfile(data.rows, data.features);
    let clock = 0;
    const monitor = new InputDriftMonitor({ windowRows: 200, minRows: 100, now: () => new Date(clock) });
    monitor.setProfile(profile);
    const row = new Float64Array(FEATURE_COUNT);
    const feed = (count: number, scale: number): void => {
      for (let n = 0; n < count; n++) {
        const r = (n * 7919) % data.rows;
        row.set(data.features.subarray(r * FEATURE_COUNT, (r + 1) * FEATURE_COUNT));
        row[ALT] = (row[ALT] ?? 0) * scale;
        monitor.observe(row, 0);
      }
    };
    clock = 1_000;
    feed(200, 4);
    expect(monitor.snapshot().features[ALT]?.driftingSince).toEqual(new Date(1_000));
    clock = 2_000;
    monitor.setProfile(fitInputProfile(data.rows, data.features));
    const afterSwap = monitor.snapshot();
    expect(afterSwap.windowRows).toBe(200);
    expect(afterSwap.features[ALT]?.drifted).toBe(true);
    feed(200, 1);
    expect(monitor.snapshot().features[ALT]?.drifted).toBe(false);
    monitor.setProfile(undefined);
    expect(monitor.snapshot().measured).toBe(false);
  });
});
