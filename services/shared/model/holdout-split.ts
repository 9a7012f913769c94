/**
 * The frozen holdout. The real file repeats a third of its rows, so a plain random split
 * scores the test rows on their own copies; the split therefore removes exact duplicates
 * first, then takes a stratified slice chosen by a hash of each row's content. The same
 * original rows always yield the same holdout, whatever their order and whatever feedback
 * arrives later, so every candidate model is gated on exactly the same rows.
 */
import { createHash } from "node:crypto";
import { FEATURE_COUNT, FEATURES } from "../features/feature-schema.js";
import { allocateDataset, type Dataset } from "../data/dataset.js";

/** Default share of the unique rows of each class that is held out. */
export const DEFAULT_HOLDOUT_FRACTION = 0.2;

/** What the split did, for logs, the load report and the artifact manifest. */
export interface HoldoutSplitReport {
  readonly inputRows: number;
  readonly uniqueRows: number;
  /** Rows equal to an earlier row in every feature and the label. */
  readonly duplicatesRemoved: number;
  /** Feature vectors that occur with both labels (each such vector is one group of 2 unique rows). */
  readonly conflictingFeatureGroups: number;
  readonly holdoutFraction: number;
  readonly trainRows: number;
  readonly trainPositives: number;
  readonly holdoutRows: number;
  readonly holdoutPositives: number;
  /** sha256 of the holdout rows in holdout order: equal fingerprints mean comparable gate metrics. */
  readonly holdoutFingerprint: string;
}

/** Unique rows, split; `train` and `holdout` are fresh copies ordered by content hash. */
export interface HoldoutSplit {
  readonly train: Dataset;
  readonly holdout: Dataset;
  readonly report: HoldoutSplitReport;
}

const EMPTY = -1;

/** Scratch views that read a float64's two 32-bit words; + 0 folds -0 into 0 first. */
const scratch = new Float64Array(1);
const scratchWords = new Uint32Array(scratch.buffer);

/**
 * 32-bit hash of one row's features (and the label unless `label` is negative), seeded so
 * two seeds give two independent hashes. Murmur-style mixing of the raw float bits.
 */
function hashRow(features: Float64Array, base: number, label: number, seed: number): number {
  let h = seed ^ (label >= 0 ? label + 1 : 0);
  for (let i = 0; i < FEATURE_COUNT; i++) {
    scratch[0] = (features[base + i] ?? 0) + 0;
    h = Math.imul(h ^ (scratchWords[0] ?? 0), 0x5bd1e995);
    h ^= h >>> 15;
    h = Math.imul(h ^ (scratchWords[1] ?? 0), 0x5bd1e995);
    h ^= h >>> 13;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function featuresEqual(a: Float64Array, baseA: number, b: Float64Array, baseB: number): boolean {
  for (let i = 0; i < FEATURE_COUNT; i++) if (a[baseA + i] !== b[baseB + i]) return false;
  return true;
}

/** Lexicographic order of two rows' features, then labels: the tie-break of equal hashes. */
function compareContent(dataset: Dataset, a: number, b: number): number {
  const { features, labels } = dataset;
  for (let i = 0; i < FEATURE_COUNT; i++) {
    const d = (features[a * FEATURE_COUNT + i] ?? 0) - (features[b * FEATURE_COUNT + i] ?? 0);
    if (d !== 0) return d;
  }
  return (labels[a] ?? 0) - (labels[b] ?? 0);
}

/** Refuses incomplete or mislabelled rows: NaN would defeat both dedup and training. */
function checkDataset(dataset: Dataset, what: string): void {
  const { features, labels, rows } = dataset;
  if (features.length < rows * FEATURE_COUNT || labels.length < rows) {
    throw new Error(`${what}: ${rows} rows declared but storage holds fewer`);
  }
  for (let row = 0; row < rows; row++) {
    const label = labels[row];
    if (label !== 0 && label !== 1)
      throw new Error(`${what}: row ${row} has label ${label}; expected 0 or 1`);
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const value = features[row * FEATURE_COUNT + i] ?? Number.NaN;
      if (!Number.isFinite(value)) {
        throw new Error(
          `${what}: row ${row} has ${FEATURES[i]?.name ?? `feature ${i}`} = ${value}; ` +
            "training rows must be complete (the loader drops incomplete rows)",
        );
      }
    }
  }
}

/** Copies the given rows of `source` into a new dataset of the same source. */
export function selectRows(source: Dataset, indices: ArrayLike<number>): Dataset {
  const out = allocateDataset(indices.length, source.source);
  for (let i = 0; i < indices.length; i++) {
    const row = indices[i] ?? 0;
    // A plain loop: a subarray per row costs more than the copy itself at a million rows.
    const from = row * FEATURE_COUNT;
    const to = i * FEATURE_COUNT;
    for (let j = 0; j < FEATURE_COUNT; j++) out.features[to + j] = source.features[from + j] ?? 0;
    out.labels[i] = source.labels[row] ?? 0;
  }
  return out;
}

interface Deduplicated {
  /** First occurrence of every distinct (features, label) row. */
  readonly unique: Uint32Array;
  readonly conflictingFeatureGroups: number;
}

/**
 * Open-addressing table over feature hashes. Rows with equal features but different labels
 * are both kept (they are different training rows) and counted as a conflict.
 */
function deduplicate(dataset: Dataset): Deduplicated {
  const { features, labels, rows } = dataset;
  let capacity = 16;
  while (capacity < rows * 2) capacity *= 2;
  const mask = capacity - 1;
  const slots = new Int32Array(capacity).fill(EMPTY);
  const slotHashes = new Uint32Array(capacity);
  const conflicted = new Uint8Array(rows);
  const unique = new Uint32Array(rows);
  let uniqueCount = 0;
  let conflictingFeatureGroups = 0;
  for (let row = 0; row < rows; row++) {
    const base = row * FEATURE_COUNT;
    const hash = hashRow(features, base, -1, 0x9e3779b9);
    let slot = hash & mask;
    let duplicate = false;
    let otherLabel = EMPTY;
    for (;;) {
      const entry = slots[slot] ?? EMPTY;
      if (entry === EMPTY) break;
      if (slotHashes[slot] === hash && featuresEqual(features, entry * FEATURE_COUNT, features, base)) {
        if (labels[entry] === labels[row]) {
          duplicate = true;
          break;
        }
        otherLabel = entry;
      }
      slot = (slot + 1) & mask;
    }
    if (duplicate) continue;
    if (otherLabel !== EMPTY && conflicted[otherLabel] === 0) {
      conflicted[otherLabel] = 1;
      conflicted[row] = 1;
      conflictingFeatureGroups++;
    }
    slots[slot] = row;
    slotHashes[slot] = hash;
    unique[uniqueCount++] = row;
  }
  return { unique: unique.subarray(0, uniqueCount), conflictingFeatureGroups };
}

/**
 * `rows` ordered by `keys` (parallel arrays) with an LSD radix sort, O(n) where a comparator
 * sort of a million indices takes seconds; rows with equal keys are ordered by content, so
 * the order never depends on the input order.
 */
export function rankByKey(keys: Uint32Array, rows: Uint32Array, dataset: Dataset): Uint32Array {
  let keyIn: Uint32Array = Uint32Array.from(keys);
  let rowIn: Uint32Array = Uint32Array.from(rows);
  let keyOut: Uint32Array = new Uint32Array(keys.length);
  let rowOut: Uint32Array = new Uint32Array(keys.length);
  const counts = new Uint32Array(256);
  for (let shift = 0; shift < 32; shift += 8) {
    counts.fill(0);
    for (const key of keyIn) counts[(key >>> shift) & 0xff] = (counts[(key >>> shift) & 0xff] ?? 0) + 1;
    let total = 0;
    for (let b = 0; b < 256; b++) {
      const c = counts[b] ?? 0;
      counts[b] = total;
      total += c;
    }
    for (let i = 0; i < keyIn.length; i++) {
      const key = keyIn[i] ?? 0;
      const bucket = (key >>> shift) & 0xff;
      const at = counts[bucket] ?? 0;
      counts[bucket] = at + 1;
      keyOut[at] = key;
      rowOut[at] = rowIn[i] ?? 0;
    }
    [keyIn, keyOut] = [keyOut, keyIn];
    [rowIn, rowOut] = [rowOut, rowIn];
  }
  for (let start = 0; start < keyIn.length;) {
    let end = start + 1;
    while (end < keyIn.length && keyIn[end] === keyIn[start]) end++;
    if (end - start > 1) {
      const run = rowIn.subarray(start, end).sort((a, b) => compareContent(dataset, a, b));
      rowIn.set(run, start);
    }
    start = end;
  }
  return rowIn;
}

/**
 * Deduplicates `original` and splits its unique rows into train and a stratified holdout of
 * `holdoutFraction` of each class (rounded). Rows are ranked by a hash of their content
 * (ties broken by the content itself) and each class's first rows form the holdout,
 * so the result depends only on the set of distinct rows. Feedback must never be passed
 * here: it only ever joins the training side.
 */
export function splitHoldout(original: Dataset, holdoutFraction = DEFAULT_HOLDOUT_FRACTION): HoldoutSplit {
  if (!(holdoutFraction > 0 && holdoutFraction < 1)) {
    throw new Error(`holdoutFraction is ${holdoutFraction}; valid range is 0 < fraction < 1`);
  }
  checkDataset(original, "original dataset");
  const { unique, conflictingFeatureGroups } = deduplicate(original);
  const { features, labels } = original;

  const keys = new Uint32Array(unique.length);
  let positives = 0;
  for (let i = 0; i < unique.length; i++) {
    const row = unique[i] ?? 0;
    const label = labels[row] ?? 0;
    positives += label;
    keys[i] = hashRow(features, row * FEATURE_COUNT, label, 0x85ebca6b);
  }
  const ranked = rankByKey(keys, unique, original);

  const wanted = [
    Math.round(holdoutFraction * (unique.length - positives)),
    Math.round(holdoutFraction * positives),
  ];
  const taken = [0, 0];
  const holdoutIndices = new Uint32Array((wanted[0] ?? 0) + (wanted[1] ?? 0));
  const trainIndices = new Uint32Array(unique.length - holdoutIndices.length);
  let h = 0;
  let t = 0;
  for (const row of ranked) {
    const label = labels[row] ?? 0;
    if ((taken[label] ?? 0) < (wanted[label] ?? 0)) {
      taken[label] = (taken[label] ?? 0) + 1;
      holdoutIndices[h++] = row;
    } else {
      trainIndices[t++] = row;
    }
  }

  const train = selectRows(original, trainIndices);
  const holdout = selectRows(original, holdoutIndices);
  const fingerprint = createHash("sha256")
    .update(new Uint8Array(holdout.features.buffer, holdout.features.byteOffset, holdout.features.byteLength))
    .update(holdout.labels)
    .digest("hex");
  return {
    train,
    holdout,
    report: {
      inputRows: original.rows,
      uniqueRows: unique.length,
      duplicatesRemoved: original.rows - unique.length,
      conflictingFeatureGroups,
      holdoutFraction,
      trainRows: train.rows,
      trainPositives: positives - (wanted[1] ?? 0),
      holdoutRows: holdout.rows,
      holdoutPositives: wanted[1] ?? 0,
      holdoutFingerprint: fingerprint,
    },
  };
}

/**
 * Labelled feedback rows for training: every row of `feedback` whose features do not occur
 * in the holdout. A clinician can submit a patient that is also a holdout row; training on
 * it would leak the holdout into the model it gates.
 */
export function excludeHoldoutFeatures(
  feedback: Dataset,
  holdout: Dataset,
): { kept: Dataset; dropped: number } {
  checkDataset(feedback, "feedback");
  const byHash = new Map<number, number[]>();
  for (let row = 0; row < holdout.rows; row++) {
    const hash = hashRow(holdout.features, row * FEATURE_COUNT, -1, 0x9e3779b9);
    const bucket = byHash.get(hash);
    if (bucket === undefined) byHash.set(hash, [row]);
    else bucket.push(row);
  }
  const keep: number[] = [];
  for (let row = 0; row < feedback.rows; row++) {
    const base = row * FEATURE_COUNT;
    const bucket = byHash.get(hashRow(feedback.features, base, -1, 0x9e3779b9)) ?? [];
    const inHoldout = bucket.some((h) =>
      featuresEqual(holdout.features, h * FEATURE_COUNT, feedback.features, base),
    );
    if (!inHoldout) keep.push(row);
  }
  return { kept: selectRows(feedback, keep), dropped: feedback.rows - keep.length };
}
