import { FEATURE_COUNT } from "../features/feature-schema.js";

/** Rows as the loader and the Dataset hold them: row-major features plus a label per row. */
export interface RowStore {
  readonly features: Float64Array;
  readonly labels: Uint8Array;
}

const EMPTY = 0;

/**
 * A hash set of dataset rows by exact value (all features and the label), without a
 * string or object per row. The real LPD file repeats 11,323 rows, so anything that splits
 * or counts rows must know which rows are the same; a 1M-row dataset fits in two typed
 * arrays here instead of a million Map keys.
 *
 * The set stores row indices, not copies: `add` is given the store each time because the
 * loader's arrays grow (and move) while it reads.
 */
export class RowDeduplicator {
  /** Open addressing, two Int32 per slot side by side (one cache line): row + 1 (0 = empty), hash. */
  private table: Int32Array;
  private mask: number;
  private count = 0;
  /** The features' bytes as 32-bit words, for hashing without copying; rebuilt when the array changes. */
  private words: Uint32Array = new Uint32Array(0);
  private wordsOf: Float64Array | undefined;

  /** `expectedRows` only sizes the table; it grows past it as needed. */
  constructor(expectedRows = 1024) {
    let capacity = 16;
    while (capacity < expectedRows * 2) capacity *= 2;
    this.table = new Int32Array(capacity * 2);
    this.mask = capacity - 1;
  }

  /** Unique rows added so far. */
  get size(): number {
    return this.count;
  }

  /** Adds row `row` of `store`; true when no equal row was added before, false for a duplicate. */
  add(store: RowStore, row: number): boolean {
    const hash = this.hashRow(store, row);
    const table = this.table;
    let slot = hash & this.mask;
    for (;;) {
      const entry = table[2 * slot] ?? EMPTY;
      if (entry === EMPTY) break;
      if (table[2 * slot + 1] === hash && rowsEqual(store, entry - 1, row)) return false;
      slot = (slot + 1) & this.mask;
    }
    table[2 * slot] = row + 1;
    table[2 * slot + 1] = hash;
    this.count++;
    if (this.count * 2 > this.mask + 1) this.grow();
    return true;
  }

  private hashRow(store: RowStore, row: number): number {
    if (this.wordsOf !== store.features) {
      const { features } = store;
      this.words = new Uint32Array(features.buffer, features.byteOffset, features.length * 2);
      this.wordsOf = features;
    }
    const words = this.words;
    const base = row * FEATURE_COUNT * 2;
    let h = 0x811c9dc5 ^ (store.labels[row] ?? 0);
    for (let i = 0; i < FEATURE_COUNT * 2; i += 2) {
      let a = words[base + i] ?? 0;
      let b = words[base + i + 1] ?? 0;
      // -0 equals 0, so it must hash like 0 (either word order, whatever the endianness).
      if ((a === 0 && b === 0x80000000) || (a === 0x80000000 && b === 0)) a = b = 0;
      h = Math.imul(h ^ a, 0x5bd1e995);
      h ^= h >>> 15;
      h = Math.imul(h ^ b, 0x5bd1e995);
      h ^= h >>> 13;
    }
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return h ^ (h >>> 16);
  }

  private grow(): void {
    const old = this.table;
    const capacity = (this.mask + 1) * 2;
    const table = new Int32Array(capacity * 2);
    const mask = capacity - 1;
    for (let i = 0; i < old.length; i += 2) {
      const entry = old[i] ?? EMPTY;
      if (entry === EMPTY) continue;
      const hash = old[i + 1] ?? 0;
      let slot = hash & mask;
      while (table[2 * slot] !== EMPTY) slot = (slot + 1) & mask;
      table[2 * slot] = entry;
      table[2 * slot + 1] = hash;
    }
    this.table = table;
    this.mask = mask;
  }
}

function rowsEqual(store: RowStore, a: number, b: number): boolean {
  if (store.labels[a] !== store.labels[b]) return false;
  const { features } = store;
  const baseA = a * FEATURE_COUNT;
  const baseB = b * FEATURE_COUNT;
  for (let i = 0; i < FEATURE_COUNT; i++) if (features[baseA + i] !== features[baseB + i]) return false;
  return true;
}

/** Indices of the first occurrence of every distinct row, in row order. */
export function uniqueRowIndices(store: RowStore & { readonly rows: number }): Uint32Array {
  const dedup = new RowDeduplicator(store.rows);
  const out = new Uint32Array(store.rows);
  let n = 0;
  for (let row = 0; row < store.rows; row++) if (dedup.add(store, row)) out[n++] = row;
  return out.slice(0, n);
}
