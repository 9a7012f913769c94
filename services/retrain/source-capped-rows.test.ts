import { describe, expect, it } from "vitest";
import { FEATURE_COUNT } from "../shared/features/feature-schema.js";
import { capRowsPerSource } from "./source-capped-rows.js";

function rows(sources: string[]): {
  rows: number;
  features: Float64Array;
  labels: Uint8Array;
  sources: string[];
} {
  const features = new Float64Array(sources.length * FEATURE_COUNT);
  sources.forEach((_, i) => features.fill(i, i * FEATURE_COUNT, (i + 1) * FEATURE_COUNT));
  return { rows: sources.length, features, labels: Uint8Array.from(sources, (_, i) => i % 2), sources };
}

describe("capRowsPerSource", () => {
  it("keeps each source's most recent rows, in arrival order, whatever one source sends", () => {
    const input = rows(["a", "b", "a", "a", "c", "a", "b"]);
    const { kept, capped } = capRowsPerSource(input, 2, "real");
    expect(capped).toBe(2);
    // Rows 0 and 2 are a's oldest: left out.
    expect(Array.from({ length: kept.rows }, (_, r) => kept.features[r * FEATURE_COUNT])).toEqual([
      1, 3, 4, 5, 6,
    ]);
    expect(Array.from(kept.labels)).toEqual([1, 1, 0, 1, 0]);
  });

  it("a burst from one source weighs no more than the cap", () => {
    const input = rows([...Array<string>(1_000).fill("attacker"), "x", "y"]);
    expect(capRowsPerSource(input, 100, "real").kept.rows).toBe(102);
  });

  it("keeps everything with cap 0", () => {
    expect(capRowsPerSource(rows(["a", "a", "a"]), 0, "real")).toMatchObject({
      capped: 0,
      kept: { rows: 3 },
    });
  });
});
