import { describe, expect, it } from "vitest";
import { smallDataset } from "../testing/retrain-fixtures.js";
import { useTempStore } from "../testing/temp-store.js";
import { SampleStore } from "./sample-store.js";

describe("SampleStore", () => {
  const database = useTempStore();

  it("imports once and loads the same rows in the same order", () => {
    const samples = new SampleStore(database());
    expect(samples.info()).toBeUndefined();
    const dataset = smallDataset(250);
    const info = samples.importDataset(dataset, "test rows", 1234);
    expect(info).toEqual({ source: "synthetic", description: "test rows", rows: 250, importedAtMs: 1234 });
    const loaded = samples.loadDataset();
    expect(loaded.rows).toBe(250);
    expect(loaded.source).toBe("synthetic");
    expect(Array.from(loaded.features)).toEqual(Array.from(dataset.features));
    expect(Array.from(loaded.labels)).toEqual(Array.from(dataset.labels));
    expect(() => samples.importDataset(dataset, "again")).toThrow(/already imported/);
    expect(samples.loadDataset().rows).toBe(250);
  });

  it("refuses an empty dataset and says why", () => {
    expect(() => new SampleStore(database()).importDataset(smallDataset(0), "nothing")).toThrow(/no rows/);
    expect(() => new SampleStore(database()).loadDataset()).toThrow(/no original dataset was imported/);
  });
});
