import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { fingerprintDataset } from "../shared/data/dataset-fingerprint.js";
import type { OriginalDataset } from "../shared/data/original-dataset.js";
import { reconcileOriginalData } from "./original-data-check.js";
import { readRetrainConfig } from "./retrain-config.js";
import { RETRAIN_HELP } from "./retrain-help.js";
import { ModelRegistry } from "./store/model-registry.js";
import { SampleStore } from "./store/sample-store.js";
import { smallDataset, tempDir } from "./testing/retrain-fixtures.js";
import { useTempStore } from "./testing/temp-store.js";

const silent = pino({ level: "silent" });

function original(rows: number, seed: number): OriginalDataset {
  return {
    dataset: smallDataset(rows, seed),
    source: "synthetic",
    description: `${rows} rows, seed ${seed}`,
  };
}

describe("fingerprintDataset", () => {
  it("is the same for the same rows and changes with any value, label, row or source", () => {
    const a = smallDataset(50, 3);
    expect(fingerprintDataset(a)).toBe(fingerprintDataset(smallDataset(50, 3)));
    const value = smallDataset(50, 3);
    value.features[123] = (value.features[123] ?? 0) + 1e-9;
    const label = smallDataset(50, 3);
    label.labels[7] = label.labels[7] === 1 ? 0 : 1;
    const fingerprints = new Set([
      fingerprintDataset(a),
      fingerprintDataset(value),
      fingerprintDataset(label),
      fingerprintDataset(smallDataset(49, 3)),
      fingerprintDataset({ ...a, source: "real" }),
    ]);
    expect(fingerprints.size).toBe(5);
  });
});

describe("reconcileOriginalData", () => {
  const db = useTempStore();

  it("reports unreadable data without failing the start, and refuses to re-import it", async () => {
    const samples = new SampleStore(db());
    samples.importDataset(smallDataset(80, 1), "the first data");
    const deps = {
      db: db(),
      samples,
      registry: new ModelRegistry(db()),
      load: () => Promise.reject(new Error("TRAINING_CSV /nowhere.csv does not exist")),
      logger: silent,
    };
    expect(await reconcileOriginalData({ ...deps, reimport: false })).toMatch(
      /^The original data could not be read to compare it with the store \(TRAINING_CSV \/nowhere\.csv does not exist\)\. Training uses the data imported on .*: the first data\.$/,
    );
    await expect(reconcileOriginalData({ ...deps, reimport: true })).rejects.toThrow(
      /REIMPORT_ORIGINAL_DATA is set, but the original data could not be read: TRAINING_CSV/,
    );
    expect(samples.info()?.description).toBe("the first data");
  });

  it("says nothing for the same data, and replaces differing data only when asked", async () => {
    const samples = new SampleStore(db());
    samples.importDataset(smallDataset(80, 1), "the first data");
    const deps = { db: db(), samples, registry: new ModelRegistry(db()), logger: silent };
    expect(
      await reconcileOriginalData({ ...deps, load: () => Promise.resolve(original(80, 1)), reimport: true }),
    ).toBe("");
    expect(
      await reconcileOriginalData({ ...deps, load: () => Promise.resolve(original(90, 2)), reimport: false }),
    ).toMatch(/differs from the data this store was imported from/);
    expect(samples.info()?.rows).toBe(80);
    expect(
      await reconcileOriginalData({ ...deps, load: () => Promise.resolve(original(90, 2)), reimport: true }),
    ).toBe("");
    expect(samples.info()).toMatchObject({ rows: 90, description: "90 rows, seed 2" });
    expect(fingerprintDataset(samples.loadDataset())).toBe(fingerprintDataset(smallDataset(90, 2)));
  });
});

describe("REIMPORT_ORIGINAL_DATA", () => {
  it("is read as a boolean, off by default, and documented in --help", () => {
    const tmp = tempDir();
    try {
      const env = { DATA_PATH: tmp.dir, FEEDBACK_SIGNING_KEY: "a".repeat(64) };
      expect(readRetrainConfig(env).reimportOriginalData).toBe(false);
      expect(readRetrainConfig({ ...env, REIMPORT_ORIGINAL_DATA: "1" }).reimportOriginalData).toBe(true);
      expect(() => readRetrainConfig({ ...env, REIMPORT_ORIGINAL_DATA: "maybe" })).toThrow(
        /REIMPORT_ORIGINAL_DATA=maybe is not valid/,
      );
      expect(RETRAIN_HELP).toMatch(/REIMPORT_ORIGINAL_DATA \[off\]/);
      expect(RETRAIN_HELP).toContain("npm start -- --reimport");
    } finally {
      tmp.remove();
    }
  });
});
