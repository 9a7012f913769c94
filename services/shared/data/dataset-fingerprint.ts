import { createHash } from "node:crypto";
import { FEATURE_COUNT } from "../features/feature-schema.js";
import type { Dataset } from "./dataset.js";

/**
 * SHA-256 (hex) of what a dataset trains on: its source, row count, every feature value
 * (float64 bytes, row order) and every label. Two loads of the same CSV, or the same
 * synthetic default, give the same fingerprint; any changed, added or removed row changes
 * it. The store's rows keep float64 values bit for bit, so its fingerprint can be compared
 * with a fresh load's.
 */
export function fingerprintDataset(dataset: Dataset): string {
  const hash = createHash("sha256");
  hash.update(`${dataset.source}\n${dataset.rows}\n`);
  const features = dataset.features.subarray(0, dataset.rows * FEATURE_COUNT);
  hash.update(new Uint8Array(features.buffer, features.byteOffset, features.byteLength));
  hash.update(dataset.labels.subarray(0, dataset.rows));
  return hash.digest("hex");
}
