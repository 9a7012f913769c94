import { lstat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Dataset, DataSource } from "./dataset.js";
import type { LoadReport } from "./load-report.js";
import { loadLpdCsv } from "./lpd-csv-loader.js";
import { generateSyntheticDataset, LPD_ROW_COUNT } from "./synthetic-dataset.js";

/** Where the real file lives under DATA_PATH, as in the original system. */
export const LPD_CSV_RELATIVE_PATH = join("raw", "Liver Patient Dataset (LPD)_train.csv");

/** Options of loadOriginalDataset; mirrors DATA_PATH and TRAINING_CSV. */
export interface OriginalDatasetOptions {
  /** DATA_PATH: the real CSV is looked for at `<dataPath>/raw/Liver Patient Dataset (LPD)_train.csv`. */
  readonly dataPath: string;
  /** TRAINING_CSV: an explicit CSV; when given it must exist (no fallback to synthetic data). */
  readonly trainingCsv?: string | undefined;
  /** Rows of the synthetic default (default 30,691, the real file's row count). */
  readonly syntheticRows?: number | undefined;
  /** Seed of the synthetic default (default 1). */
  readonly seed?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** The original (non-feedback) training data and a sentence saying which it is. */
export interface OriginalDataset {
  dataset: Dataset;
  /** Present when a CSV was read. */
  report?: LoadReport;
  source: DataSource;
  /** For logs, the train CLI and model metadata: real file or synthetic default, and where. */
  description: string;
}

/**
 * The original data every retrain starts from: the real LPD CSV (TRAINING_CSV, else the
 * default path under DATA_PATH) or, when no real file is there, the synthetic default.
 * Only an absent default file falls back; an explicit TRAINING_CSV that is missing, or a
 * real file that is broken, is an error, so nobody trains on synthetic data by accident.
 */
export async function loadOriginalDataset(options: OriginalDatasetOptions): Promise<OriginalDataset> {
  const { trainingCsv, signal } = options;
  const csv = trainingCsv ?? join(options.dataPath, LPD_CSV_RELATIVE_PATH);
  if (trainingCsv !== undefined || (await isPresent(csv))) {
    const { dataset, report } = await loadLpdCsv(csv, { signal });
    return {
      dataset,
      report,
      source: "real",
      description:
        `real data from ${report.path}: ${report.rowsKept} of ${report.rowsRead} rows kept ` +
        `(${report.rowsDropped} dropped, ${report.exactDuplicateRows} exact duplicates)`,
    };
  }
  const rows = options.syntheticRows ?? LPD_ROW_COUNT;
  const seed = options.seed ?? 1;
  signal?.throwIfAborted();
  return {
    dataset: generateSyntheticDataset(rows, seed),
    source: "synthetic",
    description: `synthetic default data (no real dataset at ${resolve(csv)}): ${rows} rows, seed ${seed}`,
  };
}

/** True when something exists at `path` (a link to nothing too); only "does not exist" counts as absent. */
async function isPresent(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return false;
    throw error;
  }
}
