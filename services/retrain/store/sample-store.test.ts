import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { smallDataset, tempDir } from "../testing/retrain-fixtures.js";
import { SampleStore } from "./sample-store.js";
import { openSqliteStore, type StoreDatabase } from "./sqlite-store.js";

describe("SampleStore", () => {
  let db: StoreDatabase;
  let remove: () => void;

  beforeEach(() => {
    const tmp = tempDir();
    remove = tmp.remove;
    db = openSqliteStore(path.join(tmp.dir, "retrain.sqlite"));
  });
  afterEach(() => {
    db.close();
    remove();
  });

  it("imports once and loads the same rows in the same order", () => {
    const samples = new SampleStore(db);
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
    expect(() => new SampleStore(db).importDataset(smallDataset(0), "nothing")).toThrow(/no rows/);
    expect(() => new SampleStore(db).loadDataset()).toThrow(/no original dataset was imported/);
  });
});
