import { FEATURE_COUNT } from "../features/feature-schema.js";

/** Where the original rows came from; everything trained on synthetic rows must say so. */
export type DataSource = "real" | "synthetic";

/**
 * Labelled rows in columnar-friendly form: `features` is row-major, `rows × FEATURE_COUNT`,
 * raw values in FEATURES order with the model's gender coding; `labels` is 1 for liver
 * disease, 0 for none. Typed arrays keep 1M rows well under 100 MB.
 */
export interface Dataset {
  readonly rows: number;
  readonly features: Float64Array;
  readonly labels: Uint8Array;
  readonly source: DataSource;
}

/** A dataset of `rows` rows with zeroed storage, for loaders and generators to fill. */
export function allocateDataset(rows: number, source: DataSource): Dataset {
  return {
    rows,
    features: new Float64Array(rows * FEATURE_COUNT),
    labels: new Uint8Array(rows),
    source,
  };
}

/** The first `rows` rows of a larger allocation, without copying. */
export function truncateDataset(dataset: Dataset, rows: number): Dataset {
  return {
    rows,
    features: dataset.features.subarray(0, rows * FEATURE_COUNT),
    labels: dataset.labels.subarray(0, rows),
    source: dataset.source,
  };
}
