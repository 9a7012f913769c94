import { FEATURE_COUNT } from "../../shared/features/feature-schema.js";
import { allocateDataset, type Dataset, type DataSource } from "../../shared/data/dataset.js";
import { decodeFeatureBlobInto, encodeFeatureBlob } from "./feature-blob.js";
import type { StoreDatabase } from "./sqlite-store.js";

/** Which original data the store holds. */
export interface OriginalDatasetInfo {
  readonly source: DataSource;
  /** Where it came from, in words (file and rows kept, or the synthetic default's seed). */
  readonly description: string;
  readonly rows: number;
  readonly importedAtMs: number;
}

/**
 * The original (non-feedback) samples, imported once on first start. Keeping them in the
 * store pins the training data: a later edit of the CSV cannot silently change what every
 * version is retrained and scored on.
 */
export class SampleStore {
  constructor(private readonly db: StoreDatabase) {}

  /** The imported data's provenance; undefined before the first import. */
  info(): OriginalDatasetInfo | undefined {
    const row = this.db
      .prepare<[], { source: DataSource; description: string; row_count: number; imported_at_ms: number }>(
        "SELECT source, description, row_count, imported_at_ms FROM original_dataset WHERE id = 1",
      )
      .get();
    return row === undefined
      ? undefined
      : {
          source: row.source,
          description: row.description,
          rows: row.row_count,
          importedAtMs: row.imported_at_ms,
        };
  }

  /** Stores every row of `dataset` in one transaction: an interrupted import leaves nothing. */
  importDataset(dataset: Dataset, description: string, nowMs = Date.now()): OriginalDatasetInfo {
    if (dataset.rows === 0) throw new Error("the original dataset has no rows; nothing can be trained");
    const insertSample = this.db.prepare<[Buffer, number]>(
      "INSERT INTO original_samples (features, label) VALUES (?, ?)",
    );
    this.db
      .transaction(() => {
        if (this.info() !== undefined) throw new Error("the original dataset was already imported");
        this.db
          .prepare<[DataSource, string, number, number]>(
            "INSERT INTO original_dataset (id, source, description, row_count, imported_at_ms) VALUES (1, ?, ?, ?, ?)",
          )
          .run(dataset.source, description, dataset.rows, nowMs);
        for (let row = 0; row < dataset.rows; row++) {
          insertSample.run(
            encodeFeatureBlob(dataset.features, row * FEATURE_COUNT),
            dataset.labels[row] ?? 0,
          );
        }
      })
      .immediate();
    const info = this.info();
    if (info === undefined) throw new Error("the original dataset import did not persist");
    return info;
  }

  /**
   * Replaces the original data with `dataset` in one transaction (REIMPORT_ORIGINAL_DATA):
   * the old rows and provenance go, the new ones come in, and an interruption leaves the
   * old data in place. Feedback lives in other tables and is not touched.
   */
  replaceDataset(dataset: Dataset, description: string, nowMs = Date.now()): OriginalDatasetInfo {
    return this.db.transaction(() => {
      this.db.prepare("DELETE FROM original_samples").run();
      this.db.prepare("DELETE FROM original_dataset").run();
      return this.importDataset(dataset, description, nowMs);
    })();
  }

  /** The imported rows in import order (the order the holdout split was drawn from). */
  loadDataset(): Dataset {
    const info = this.info();
    if (info === undefined) throw new Error("no original dataset was imported into the store yet");
    const dataset = allocateDataset(info.rows, info.source);
    let row = 0;
    const rows = this.db
      .prepare<[], { features: Buffer; label: number }>(
        "SELECT features, label FROM original_samples ORDER BY seq",
      )
      .iterate();
    for (const sample of rows) {
      if (row >= info.rows) break;
      decodeFeatureBlobInto(sample.features, dataset.features, row);
      dataset.labels[row] = sample.label;
      row++;
    }
    if (row !== info.rows) {
      throw new Error(`the store lists ${info.rows} original rows but holds ${row}; the store is damaged`);
    }
    return dataset;
  }
}
