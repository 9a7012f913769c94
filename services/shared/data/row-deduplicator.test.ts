import { describe, expect, it } from "vitest";
import { FEATURE_COUNT } from "../features/feature-schema.js";
import { RowDeduplicator, uniqueRowIndices } from "./row-deduplicator.js";

function store(rows: number[][], labels: number[]) {
  return { rows: rows.length, features: Float64Array.from(rows.flat()), labels: Uint8Array.from(labels) };
}

const row = (x: number): number[] => Array.from({ length: FEATURE_COUNT }, (_, i) => x + i / 10);

describe("RowDeduplicator", () => {
  it("finds rows equal in every feature and the label", () => {
    const other = row(1);
    other[9] = 99;
    const data = store(
      [row(1), row(2), row(1), row(1), other, [...row(2)].map((v) => v + 0)],
      [1, 1, 1, 0, 1, 1],
    );
    expect(Array.from(uniqueRowIndices(data))).toEqual([0, 1, 3, 4]);
  });

  it("treats 0 and -0 as the same value", () => {
    const a = row(0);
    const b = row(0);
    a[0] = 0;
    b[0] = -0;
    expect(Array.from(uniqueRowIndices(store([a, b], [1, 1])))).toEqual([0]);
  });

  it("grows past its initial size without losing rows", () => {
    const n = 10_000;
    const features = new Float64Array(n * FEATURE_COUNT);
    for (let r = 0; r < n; r++) features[r * FEATURE_COUNT] = r % 3_000;
    const data = { rows: n, features, labels: new Uint8Array(n) };
    const dedup = new RowDeduplicator(4);
    let fresh = 0;
    for (let r = 0; r < n; r++) if (dedup.add(data, r)) fresh++;
    expect(fresh).toBe(3_000);
    expect(dedup.size).toBe(3_000);
  });
});
