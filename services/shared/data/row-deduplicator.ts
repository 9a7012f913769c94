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
  private slots: Int32Array;
  private hashes: Uint32Array;
  private mask: number;
  private count = 0;
  private readonly bits = new Float64Array(1);
  private readonly words = new Uint32Array(this.bits.buffer);

  /** `expectedRows` only sizes the table; it grows past it as needed. */
  constructor(expectedRows = 1024) {
    let capacity = 16;
    while (capacity < expectedRows * 2) capacity *= 2;
    this.slots = new Int32Array(capacity);
    this.hashes = new Uint32Array(capacity);
    this.mask = capacity - 1;
  }

  /** Unique rows added so far. */
  get size(): number {
    return this.count;
  }

  /** Adds row `row` of `store`; true when no equal row was added before, false for a duplicate. */
  add(store: RowStore, row: number): boolean {
    const hash = this.hashRow(store, row);
    let slot = hash & this.mask;
    for (;;) {
      const entry = this.slots[slot] ?? EMPTY;
      if (entry === EMPTY) break;
      if (this.hashes[slot] === hash && rowsEqual(store, entry - 1, row)) return false;
      slot = (slot + 1) & this.mask;
    }
    this.slots[slot] = row + 1;
    this.hashes[slot] = hash;
    this.count++;
    if (this.count * 2 > this.slots.length) this.grow();
    return true;
  }

  private hashRow(store: RowStore, row: number): number {
    const { features } = store;
    const base = row * FEATURE_COUNT;
    let h = 0x811c9dc5 ^ (store.labels[row] ?? 0);
    for (let i = 0; i < FEATURE_COUNT; i++) {
      // + 0 folds -0 into 0, so values that compare equal hash equally.
      this.bits[0] = (features[base + i] ?? 0) + 0;
      h = Math.imul(h ^ (this.words[0] ?? 0), 0x5bd1e995);
      h ^= h >>> 15;
      h = Math.imul(h ^ (this.words[1] ?? 0), 0x5bd1e995);
      h ^= h >>> 13;
    }
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  }

  private grow(): void {
    const oldSlots = this.slots;
    const oldHashes = this.hashes;
    const capacity = oldSlots.length * 2;
    this.slots = new Int32Array(capacity);
    this.hashes = new Uint32Array(capacity);
    this.mask = capacity - 1;
    for (let i = 0; i < oldSlots.length; i++) {
      const entry = oldSlots[i] ?? EMPTY;
      if (entry === EMPTY) continue;
      const hash = oldHashes[i] ?? 0;
      let slot = hash & this.mask;
      while (this.slots[slot] !== EMPTY) slot = (slot + 1) & this.mask;
      this.slots[slot] = entry;
      this.hashes[slot] = hash;
    }
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
