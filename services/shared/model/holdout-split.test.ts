import { describe, expect, it } from "vitest";
import { FEATURE_COUNT } from "../features/feature-schema.js";
import { allocateDataset, type Dataset } from "../data/dataset.js";
import { excludeHoldoutProfiles, rankByKey, selectRows, splitHoldout } from "./holdout-split.js";
import { Prng } from "../data/prng.js";

/** `rows` random rows drawn from few distinct values, so many rows repeat exactly. */
function randomDataset(rows: number, seed: number, distinctValues = 3): Dataset {
  const random = new Prng(seed);
  const dataset = allocateDataset(rows, "synthetic");
  for (let row = 0; row < rows; row++) {
    for (let i = 0; i < FEATURE_COUNT; i++) {
      dataset.features[row * FEATURE_COUNT + i] = Math.floor(random.nextFloat() * distinctValues) + i;
    }
    dataset.labels[row] = random.nextFloat() < 0.3 ? 0 : 1;
  }
  return dataset;
}

function rowKey(dataset: Dataset, row: number, withLabel = true): string {
  const values = Array.from(dataset.features.subarray(row * FEATURE_COUNT, (row + 1) * FEATURE_COUNT));
  return withLabel ? `${values.join(",")}|${dataset.labels[row]}` : values.join(",");
}

function rowKeys(dataset: Dataset, withLabel = true): string[] {
  return Array.from({ length: dataset.rows }, (_, row) => rowKey(dataset, row, withLabel));
}

function shuffled(dataset: Dataset, seed: number): Dataset {
  const random = new Prng(seed);
  const order = Array.from({ length: dataset.rows }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random.nextFloat() * (i + 1));
    [order[i], order[j]] = [order[j] ?? 0, order[i] ?? 0];
  }
  return selectRows(dataset, order);
}

describe("splitHoldout", () => {
  const original = randomDataset(3000, 1);
  const split = splitHoldout(original);

  it("removes exact duplicates and reports them", () => {
    const distinct = new Set(rowKeys(original));
    expect(split.report.inputRows).toBe(3000);
    expect(split.report.uniqueRows).toBe(distinct.size);
    expect(split.report.duplicatesRemoved).toBe(3000 - distinct.size);
    expect(split.report.duplicatesRemoved).toBeGreaterThan(0);
    const all = [...rowKeys(split.train), ...rowKeys(split.holdout)];
    expect(new Set(all).size).toBe(all.length);
    expect(new Set(all)).toEqual(distinct);
  });

  it("counts feature vectors seen with both labels", () => {
    const labelsByFeatures = new Map<string, Set<number>>();
    for (let row = 0; row < original.rows; row++) {
      const key = rowKey(original, row, false);
      const set = labelsByFeatures.get(key) ?? new Set<number>();
      set.add(original.labels[row] ?? -1);
      labelsByFeatures.set(key, set);
    }
    const conflicts = [...labelsByFeatures.values()].filter((s) => s.size === 2).length;
    expect(conflicts).toBeGreaterThan(0);
    expect(split.report.conflictingFeatureGroups).toBe(conflicts);
  });

  it("keeps every row of a lab profile on one side", () => {
    const profile = (ds: Dataset, row: number): string =>
      Array.from(ds.features.subarray(row * FEATURE_COUNT + 2, (row + 1) * FEATURE_COUNT)).join(",");
    const trainProfiles = new Set(
      Array.from({ length: split.train.rows }, (_, r) => profile(split.train, r)),
    );
    const holdoutProfiles = new Set(
      Array.from({ length: split.holdout.rows }, (_, r) => profile(split.holdout, r)),
    );
    expect(holdoutProfiles.size).toBeGreaterThan(0);
    for (const p of holdoutProfiles) expect(trainProfiles.has(p)).toBe(false);
    expect(split.report.labProfiles).toBe(trainProfiles.size + holdoutProfiles.size);
    expect(split.report.holdoutLabProfiles).toBe(holdoutProfiles.size);
    expect(split.report.holdoutScheme).toBe("lab-profile-v1");
  });

  it("holds out about 20% of the profiles of each class, and counts what it held out", () => {
    expect(split.report.holdoutLabProfiles / split.report.labProfiles).toBeGreaterThan(0.18);
    expect(split.report.holdoutLabProfiles / split.report.labProfiles).toBeLessThan(0.22);
    expect(split.holdout.labels.reduce((a, b) => a + b, 0)).toBe(split.report.holdoutPositives);
    expect(split.train.labels.reduce((a, b) => a + b, 0)).toBe(split.report.trainPositives);
    expect(split.train.rows + split.holdout.rows).toBe(split.report.uniqueRows);
  });

  it("yields the same holdout whatever the row order and duplication", () => {
    const reordered = shuffled(original, 99);
    const again = splitHoldout(reordered);
    expect(again.report.holdoutFingerprint).toBe(split.report.holdoutFingerprint);
    expect(rowKeys(again.holdout)).toEqual(rowKeys(split.holdout));
    expect(rowKeys(again.train)).toEqual(rowKeys(split.train));
    // More copies of existing rows change nothing either.
    const doubled = selectRows(original, [...Array.from({ length: 3000 }, (_, i) => i), 5, 6, 7, 5]);
    expect(splitHoldout(doubled).report.holdoutFingerprint).toBe(split.report.holdoutFingerprint);
  });

  it("moves with the data: a different dataset gives a different holdout", () => {
    const other = splitHoldout(randomDataset(3000, 2));
    expect(other.report.holdoutFingerprint).not.toBe(split.report.holdoutFingerprint);
  });

  it("keeps the source tag and refuses incomplete rows and bad input", () => {
    expect(split.holdout.source).toBe("synthetic");
    const broken = randomDataset(10, 3);
    broken.features[4 * FEATURE_COUNT + 2] = Number.NaN;
    expect(() => splitHoldout(broken)).toThrow(/row 4 has total_bilirubin = NaN/);
    const badLabel = randomDataset(10, 3);
    badLabel.labels[2] = 2;
    expect(() => splitHoldout(badLabel)).toThrow(/row 2 has label 2; expected 0 or 1/);
    expect(() => splitHoldout(original, 1)).toThrow(/holdoutFraction is 1; valid range is 0 < fraction < 1/);
  });
});

describe("excludeHoldoutProfiles", () => {
  it("drops feedback rows with a holdout row's lab profile, whatever their age, gender or label", () => {
    const { holdout } = splitHoldout(randomDataset(2000, 4, 4));
    const feedback = selectRows(holdout, [0]);
    feedback.features[0] = 200; // another age
    feedback.features[1] = 1 - (feedback.features[1] ?? 0); // another gender
    expect(excludeHoldoutProfiles(feedback, holdout).dropped).toBe(1);
  });

  it("drops feedback rows whose features are a holdout row's, whatever their label", () => {
    const { holdout, train } = splitHoldout(randomDataset(2000, 4, 4));
    const feedback = selectRows(holdout, [0, 1]);
    feedback.labels[1] = 1 - (feedback.labels[1] ?? 0);
    const trainRow = rowKeys(train, false).findIndex((k) => !rowKeys(holdout, false).includes(k));
    expect(trainRow).toBeGreaterThanOrEqual(0);
    const withTrainRow = selectRows(
      {
        rows: 3,
        features: Float64Array.from([
          ...feedback.features,
          ...train.features.subarray(trainRow * 10, trainRow * 10 + 10),
        ]),
        labels: Uint8Array.from([...feedback.labels, 1]),
        source: "synthetic",
      },
      [0, 1, 2],
    );
    const { kept, dropped } = excludeHoldoutProfiles(withTrainRow, holdout);
    expect(dropped).toBe(2);
    expect(kept.rows).toBe(1);
    expect(rowKey(kept, 0, false)).toBe(rowKey(train, trainRow, false));
  });
});

describe("rankByKey", () => {
  const dataset = randomDataset(300, 8, 50);

  it("orders rows by key, ascending over the full 32 bits", () => {
    const random = new Prng(5);
    const keys = Uint32Array.from({ length: 300 }, () => random.nextUint32());
    const rows = Uint32Array.from({ length: 300 }, (_, i) => i);
    const ranked = Array.from(rankByKey(keys, rows, dataset));
    const expected = [...rows].sort((a, b) => (keys[a] ?? 0) - (keys[b] ?? 0));
    expect(ranked).toEqual(expected);
  });

  it("orders equal keys by row content, whatever the input order", () => {
    const keys = new Uint32Array(300).fill(7);
    const forward = Uint32Array.from({ length: 300 }, (_, i) => i);
    const backward = forward.slice().reverse();
    const a = Array.from(rankByKey(keys, forward, dataset));
    const b = Array.from(rankByKey(keys, backward, dataset));
    expect(a).toEqual(b);
    const contents = a.map((row) =>
      Array.from(dataset.features.subarray(row * FEATURE_COUNT, row * FEATURE_COUNT + FEATURE_COUNT)),
    );
    for (let i = 1; i < contents.length; i++) {
      const prev = contents[i - 1] ?? [];
      const cur = contents[i] ?? [];
      // Lab values (index 2 on) are compared first, then age and gender.
      const order = [2, 3, 4, 5, 6, 7, 8, 9, 0, 1];
      const firstDiff = order.find((j) => prev[j] !== cur[j]);
      if (firstDiff !== undefined) expect(prev[firstDiff] ?? 0).toBeLessThan(cur[firstDiff] ?? 0);
    }
  });
});
