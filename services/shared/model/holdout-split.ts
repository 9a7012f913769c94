/**
 * The frozen holdout, split by patient. The real file repeats a third of its rows, and its
 * 16,389 unique rows are only 662 distinct lab profiles (the eight lab values) repeated with
 * other ages and genders. A row-level split puts the same profile on both sides and scores
 * memory, not medicine (a boosted tree reaches ROC AUC 1.000 that way). So the split removes
 * exact duplicates, groups the unique rows by lab profile, and holds out whole groups: a
 * stratified share of the groups (by each group's majority label) chosen by a hash of the
 * profile. The same original rows always yield the same holdout, whatever their order and
 * whatever feedback arrives later, so every candidate is gated on exactly the same rows.
 */
import { createHash } from "node:crypto";
import { FEATURE_COUNT, FEATURES } from "../features/feature-schema.js";
import { allocateDataset, type Dataset } from "../data/dataset.js";

/** Default share of the lab-profile groups of each class that is held out. */
export const DEFAULT_HOLDOUT_FRACTION = 0.2;

/**
 * Names how the holdout is cut; stored with every figure so the registry can tell which
 * holdout a metric was measured on ("row-v1" was the earlier row-level split).
 */
export const HOLDOUT_SCHEME = "lab-profile-v1";

/** The scheme of figures measured before HOLDOUT_SCHEME existed: a row-level split. */
export const LEGACY_HOLDOUT_SCHEME = "row-v1";

/** Index of the first lab value in FEATURES order: age and gender come first. */
const FIRST_LAB = 2;

/** What the split did, for logs, the load report and the artifact manifest. */
export interface HoldoutSplitReport {
  readonly inputRows: number;
  readonly uniqueRows: number;
  /** Rows equal to an earlier row in every feature and the label. */
  readonly duplicatesRemoved: number;
  /** Feature vectors that occur with both labels (each such vector is one group of 2 unique rows). */
  readonly conflictingFeatureGroups: number;
  readonly holdoutFraction: number;
  /** How the holdout was cut: HOLDOUT_SCHEME. */
  readonly holdoutScheme: string;
  /** Distinct lab profiles among the unique rows, and how many of them are held out. */
  readonly labProfiles: number;
  readonly holdoutLabProfiles: number;
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
function hashRow(features: Float64Array, base: number, label: number, seed: number, from = 0): number {
  let h = seed ^ (label >= 0 ? label + 1 : 0);
  for (let i = from; i < FEATURE_COUNT; i++) {
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

/** 32-bit hash of a row's lab profile: every feature but age and gender. */
export function hashLabProfile(features: Float64Array, base: number): number {
  return hashRow(features, base, -1, 0x27d4eb2f, FIRST_LAB);
}

function featuresEqual(a: Float64Array, baseA: number, b: Float64Array, baseB: number, from = 0): boolean {
  for (let i = from; i < FEATURE_COUNT; i++) if (a[baseA + i] !== b[baseB + i]) return false;
  return true;
}

/** Whether two rows share their lab profile (age and gender may differ). */
export function sameLabProfile(a: Float64Array, baseA: number, b: Float64Array, baseB: number): boolean {
  return featuresEqual(a, baseA, b, baseB, FIRST_LAB);
}

/**
 * Order of two rows: lab values first, then age, gender and label, so rows of one lab
 * profile are contiguous once sorted. The tie-break of equal hashes.
 */
function compareContent(dataset: Dataset, a: number, b: number): number {
  const { features, labels } = dataset;
  for (let k = 0; k < FEATURE_COUNT; k++) {
    const i = (k + FIRST_LAB) % FEATURE_COUNT;
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
 * Deduplicates `original` and splits its unique rows by lab profile: every unique row of a
 * profile goes to the same side. Profiles are ranked by a hash of their lab values (ties
 * broken by the values themselves) and the first `holdoutFraction` of each class's profiles
 * (a profile's class is its rows' majority label) form the holdout, so the result depends
 * only on the set of distinct rows. Feedback must never be passed here: it only ever joins
 * the training side.
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
    positives += labels[row] ?? 0;
    keys[i] = hashLabProfile(features, row * FEATURE_COUNT);
  }
  // Rows of one profile are contiguous in this order (equal hash, lab values compared first).
  const ranked = rankByKey(keys, unique, original);
  const groups = profileGroups(ranked, original);

  const groupsOfClass = [0, 0];
  for (const group of groups) groupsOfClass[group.label] = (groupsOfClass[group.label] ?? 0) + 1;
  const wanted = groupsOfClass.map((count) => Math.round(holdoutFraction * count));
  const taken = [0, 0];
  const inHoldout = new Uint8Array(ranked.length);
  let holdoutRows = 0;
  let holdoutLabProfiles = 0;
  for (const group of groups) {
    if ((taken[group.label] ?? 0) >= (wanted[group.label] ?? 0)) continue;
    taken[group.label] = (taken[group.label] ?? 0) + 1;
    holdoutLabProfiles++;
    inHoldout.fill(1, group.start, group.end);
    holdoutRows += group.end - group.start;
  }
  const holdoutIndices = new Uint32Array(holdoutRows);
  const trainIndices = new Uint32Array(ranked.length - holdoutRows);
  let h = 0;
  let t = 0;
  let holdoutPositives = 0;
  for (let i = 0; i < ranked.length; i++) {
    const row = ranked[i] ?? 0;
    if (inHoldout[i] === 1) {
      holdoutIndices[h++] = row;
      holdoutPositives += labels[row] ?? 0;
    } else {
      trainIndices[t++] = row;
    }
  }

  const train = selectRows(original, trainIndices);
  const holdout = selectRows(original, holdoutIndices);
  const fingerprint = createHash("sha256")
    .update(HOLDOUT_SCHEME)
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
      holdoutScheme: HOLDOUT_SCHEME,
      labProfiles: groups.length,
      holdoutLabProfiles,
      trainRows: train.rows,
      trainPositives: positives - holdoutPositives,
      holdoutRows: holdout.rows,
      holdoutPositives,
      holdoutFingerprint: fingerprint,
    },
  };
}

/** One lab profile's rows: `ranked[start .. end)`, and the majority label (ties: disease). */
interface ProfileGroup {
  readonly start: number;
  readonly end: number;
  readonly label: 0 | 1;
}

/** Cuts rows ranked by profile into runs of equal lab values. */
function profileGroups(ranked: Uint32Array, dataset: Dataset): ProfileGroup[] {
  const { features, labels } = dataset;
  const groups: ProfileGroup[] = [];
  for (let start = 0; start < ranked.length;) {
    const first = (ranked[start] ?? 0) * FEATURE_COUNT;
    let end = start;
    let positives = 0;
    while (
      end < ranked.length &&
      sameLabProfile(features, first, features, (ranked[end] ?? 0) * FEATURE_COUNT)
    ) {
      positives += labels[ranked[end] ?? 0] ?? 0;
      end++;
    }
    groups.push({ start, end, label: positives * 2 >= end - start ? 1 : 0 });
    start = end;
  }
  return groups;
}

/**
 * Labelled feedback rows for training: every row of `feedback` whose lab profile does not
 * occur in the holdout. A clinician can submit a holdout patient (or the same labs with
 * another age); training on it would leak the holdout into the model it gates.
 */
export function excludeHoldoutProfiles(
  feedback: Dataset,
  holdout: Dataset,
): { kept: Dataset; dropped: number } {
  checkDataset(feedback, "feedback");
  const byHash = new Map<number, number[]>();
  for (let row = 0; row < holdout.rows; row++) {
    const hash = hashLabProfile(holdout.features, row * FEATURE_COUNT);
    const bucket = byHash.get(hash);
    if (bucket === undefined) byHash.set(hash, [row]);
    else bucket.push(row);
  }
  const keep: number[] = [];
  for (let row = 0; row < feedback.rows; row++) {
    const base = row * FEATURE_COUNT;
    const bucket = byHash.get(hashLabProfile(feedback.features, base)) ?? [];
    const inHoldout = bucket.some((h) =>
      sameLabProfile(holdout.features, h * FEATURE_COUNT, feedback.features, base),
    );
    if (!inHoldout) keep.push(row);
  }
  return { kept: selectRows(feedback, keep), dropped: feedback.rows - keep.length };
}
