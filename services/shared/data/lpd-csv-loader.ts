import { open, stat, type FileHandle } from "node:fs/promises";
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import {
  FEATURE_COUNT,
  FEATURES,
  GENDER_CODE,
  LABEL,
  LABEL_CSV_HEADER,
  type FeatureSpec,
} from "../features/feature-schema.js";
import { truncateDataset, type Dataset } from "./dataset.js";
import { DatasetFormatError } from "./dataset-format-error.js";
import {
  DROP_REASONS,
  formatLoadReport,
  type DropExample,
  type DropReason,
  type LoadReport,
  type LpdColumn,
} from "./load-report.js";
import { RowDeduplicator, type RowStore } from "./row-deduplicator.js";

/** Options of loadLpdCsv. */
export interface LoadLpdCsvOptions {
  /** Aborts the read between chunks; the promise then rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
}

/** A loaded CSV: the kept rows (source "real") and the account of what was read and dropped. */
export interface LoadedLpdCsv {
  dataset: Dataset;
  report: LoadReport;
}

const COMMA = 0x2c;
const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const NBSP = 0xa0;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

/** Read size; the real file (1.2 MB) is one or two reads. */
const CHUNK_BYTES = 1 << 20;
/** How far into the file to look for NUL bytes before calling it binary. */
const BINARY_PROBE_BYTES = 64 * 1024;
const EXAMPLES_PER_REASON = 5;

/** Column map targets besides feature indices 0..FEATURE_COUNT-1. */
const LABEL_TARGET = FEATURE_COUNT;
const EXTRA_TARGET = FEATURE_COUNT + 1;
const IGNORED = -1;
/** Counter slots per reason: the features, the label, extra cells. */
const TARGETS = FEATURE_COUNT + 2;

const REASON_INDEX: Record<DropReason, number> = { missing: 0, unparseable: 1, outOfRange: 2, badLabel: 3 };
const MISSING = REASON_INDEX.missing;
const UNPARSEABLE = REASON_INDEX.unparseable;
const OUT_OF_RANGE = REASON_INDEX.outOfRange;
const BAD_LABEL = REASON_INDEX.badLabel;

/** Exact powers of ten: digits / 10^k is then the correctly rounded value of the decimal. */
const POW10 = Float64Array.from({ length: 16 }, (_, k) => 10 ** k);
const NUMBER_PATTERN = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Streams the LPD CSV as it is published (latin-1 or UTF-8, CRLF or LF, a header row whose
 * names may carry no-break spaces, missing cells, duplicate rows) into a Dataset in FEATURES
 * order with the schema's gender coding; label 1 = liver disease (CSV "1"), 0 = none (CSV "2").
 *
 * Columns are found by the schema's csvHeader (trimmed, case-insensitive, any order; other
 * columns are ignored). A row with a missing, unparseable or out-of-range cell or a bad
 * label is dropped and counted in the report; duplicate rows are kept and counted. Whole-
 * file problems (not found, empty, binary, wrong delimiter, missing columns, no usable row)
 * throw DatasetFormatError.
 *
 * Bytes are parsed in place, one reusable buffer and no object per row, because benchmarks
 * and retrains load up to a million rows.
 */
export async function loadLpdCsv(path: string, options: LoadLpdCsvOptions = {}): Promise<LoadedLpdCsv> {
  const started = performance.now();
  const { signal } = options;
  signal?.throwIfAborted();
  const absolute = resolve(path);
  const size = await fileSize(path, absolute);
  let handle: FileHandle;
  try {
    handle = await open(absolute, "r");
  } catch (error) {
    throw accessError(path, absolute, error);
  }
  try {
    const parser = await readAll(handle, path, size, signal);
    return parser.finish(path, absolute, size, started);
  } finally {
    await handle.close();
  }
}

async function fileSize(path: string, absolute: string): Promise<number> {
  let info;
  try {
    info = await stat(absolute);
  } catch (error) {
    throw accessError(path, absolute, error);
  }
  if (info.isDirectory()) {
    throw new DatasetFormatError(path, `${absolute} is a directory; expected the LPD CSV file itself.`);
  }
  if (info.size === 0) {
    throw new DatasetFormatError(
      path,
      `${absolute} is empty (0 bytes); expected the LPD CSV with a header row and data rows.`,
    );
  }
  return info.size;
}

function accessError(path: string, absolute: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT" || code === "ENOTDIR") {
    return new DatasetFormatError(
      path,
      `CSV file not found: ${absolute}. Check the path (and its spelling).`,
      {
        cause: error,
      },
    );
  }
  if (code === "EACCES" || code === "EPERM") {
    return new DatasetFormatError(
      path,
      `Cannot read ${absolute}: permission denied. Make the file readable for this user.`,
      { cause: error },
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** Reads the file chunk by chunk, handing complete lines to the parser. */
async function readAll(
  handle: FileHandle,
  path: string,
  size: number,
  signal: AbortSignal | undefined,
): Promise<RowParser> {
  let buf = Buffer.allocUnsafe(Math.max(64, Math.min(CHUNK_BYTES, size)));
  let filled = 0;
  let parser: RowParser | undefined;
  let line = 0;
  let first = true;
  let eof = false;
  while (!eof) {
    signal?.throwIfAborted();
    if (filled === buf.length) {
      const bigger = Buffer.allocUnsafe(buf.length * 2);
      buf.copy(bigger, 0, 0, filled);
      buf = bigger;
    }
    const { bytesRead } = await handle.read(buf, filled, buf.length - filled, null);
    signal?.throwIfAborted();
    eof = bytesRead === 0;
    filled += bytesRead;
    let pos = 0;
    if (first && filled > 0) {
      first = false;
      pos = checkStartOfFile(path, buf.subarray(0, filled));
    }
    const view = buf.subarray(0, filled);
    for (;;) {
      let end = view.indexOf(LF, pos);
      if (end === -1) {
        if (!eof || pos >= filled) break;
        end = filled;
      }
      line++;
      if (parser === undefined) {
        parser = RowParser.fromHeader(path, view.subarray(pos, end), size, view, end + 1);
      } else {
        parser.parseLine(view, pos, end, line);
      }
      pos = end + 1;
    }
    if (pos > 0) {
      buf.copyWithin(0, Math.min(pos, filled), filled);
      filled -= Math.min(pos, filled);
    }
  }
  if (parser === undefined) {
    throw new DatasetFormatError(path, `${path} has no header row; expected the LPD CSV.`);
  }
  return parser;
}

/** Rejects binary and UTF-16 files; returns where the header starts (after a UTF-8 BOM). */
function checkStartOfFile(path: string, head: Buffer): number {
  if (
    head.length >= 2 &&
    ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff))
  ) {
    throw new DatasetFormatError(
      path,
      `${path} is UTF-16 text; save it as a comma-separated CSV in UTF-8 or latin-1 (Windows-1252) instead.`,
    );
  }
  const nul = head.subarray(0, BINARY_PROBE_BYTES).indexOf(0);
  if (nul !== -1) {
    throw new DatasetFormatError(
      path,
      `${path} is a binary file (NUL byte at offset ${nul}), not a CSV: a spreadsheet, archive or ` +
        `compressed file? Export it as comma-separated CSV text.`,
    );
  }
  return head.length >= 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
}

/** Header text: UTF-8 when it is valid UTF-8 (BOM or not), else latin-1 as the LPD file is. */
function decodeHeader(bytes: Buffer): string {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === CR) end--;
  const raw = bytes.subarray(0, end);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch {
    return raw.toString("latin1");
  }
}

/** Splits one CSV line of text, honouring double quotes ("a,b" and "" inside quotes). */
function splitCsvText(text: string): string[] {
  const cells: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? "";
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      cells.push(cell);
      cell = "";
    } else cell += ch;
  }
  cells.push(cell);
  return cells;
}

/** Header comparison key: white space (including U+00A0 and BOM) trimmed and collapsed, lower case. */
export function normaliseHeader(name: string): string {
  return name
    .replace(/[\s\uFEFF]+/g, " ")
    .trim()
    .toLowerCase();
}

/** Finds the delimiter the header uses; anything but a comma is an error. */
function checkDelimiter(path: string, header: string): void {
  const count = (ch: string): number => header.split(ch).length - 1;
  const candidates: [string, string, number][] = [
    [";", "semicolon (;)", count(";")],
    ["\t", "tab", count("\t")],
    ["|", "pipe (|)", count("|")],
  ];
  const commas = count(",");
  const [, name, found] = candidates.reduce((best, c) => (c[2] > best[2] ? c : best));
  if (found > commas) {
    throw new DatasetFormatError(
      path,
      `${path} uses ${name} as its delimiter (${found} in the header row, ${commas} commas); ` +
        `a comma-separated file is expected. Re-export it with commas (in a spreadsheet: CSV, comma delimited).`,
    );
  }
}

/** The parser state for one file: column map, output arrays and every counter of the report. */
class RowParser {
  private readonly headerCells: number;
  private readonly columnTarget: Int32Array;
  private readonly mappedColumns: number;
  private readonly min = new Float64Array(FEATURE_COUNT);
  private readonly max = new Float64Array(FEATURE_COUNT);
  private readonly isGender = new Uint8Array(FEATURE_COUNT);

  private capacity: number;
  private store: RowStore;
  private kept = 0;

  private rowsRead = 0;
  private blankLines = 0;
  private readonly cellCounts = new Float64Array(DROP_REASONS.length * TARGETS);
  private readonly rowsByReason = new Float64Array(DROP_REASONS.length);
  private readonly examples: DropExample[] = [];
  private readonly examplesByReason = new Uint8Array(DROP_REASONS.length);
  private readonly labelsRead = new Float64Array(2);
  private readonly labelsKept = new Float64Array(2);
  private readonly dedup: RowDeduplicator;
  private readonly droppedLines = new Set<string>();
  private duplicates = 0;

  // Per-row state, reset by parseLine.
  private problems = 0;
  private label = -1;
  private mappedSeen = 0;
  private line = 0;
  private scratch = Buffer.alloc(256);

  private constructor(headerCells: number, columnTarget: Int32Array, capacity: number) {
    this.headerCells = headerCells;
    this.columnTarget = columnTarget;
    this.mappedColumns = columnTarget.reduce((n, t) => (t === IGNORED ? n : n + 1), 0);
    FEATURES.forEach((spec: FeatureSpec, i) => {
      if (spec.kind === "gender") this.isGender[i] = 1;
      else {
        this.min[i] = spec.min;
        this.max[i] = spec.max;
      }
    });
    this.capacity = capacity;
    this.store = { features: new Float64Array(capacity * FEATURE_COUNT), labels: new Uint8Array(capacity) };
    this.dedup = new RowDeduplicator(capacity);
  }

  /**
   * Maps header columns to features; throws when the delimiter is wrong or a required column
   * is missing. `sample`, from `dataStart` on, sizes the output arrays from the line length.
   */
  static fromHeader(
    path: string,
    headerBytes: Buffer,
    size: number,
    sample: Buffer,
    dataStart: number,
  ): RowParser {
    const header = decodeHeader(headerBytes);
    if (header.includes("\r")) {
      throw new DatasetFormatError(
        path,
        `${path} uses CR-only line ends (old Mac style), so the whole file reads as one line; ` +
          `save it with LF or CRLF line ends.`,
      );
    }
    checkDelimiter(path, header);
    const found = splitCsvText(header);
    const wanted = new Map<string, number>();
    FEATURES.forEach((spec, i) => wanted.set(normaliseHeader(spec.csvHeader), i));
    wanted.set(normaliseHeader(LABEL_CSV_HEADER), LABEL_TARGET);
    const columnTarget = new Int32Array(found.length).fill(IGNORED);
    const columnOf = new Map<number, number>();
    found.forEach((name, column) => {
      const target = wanted.get(normaliseHeader(name));
      if (target === undefined) return;
      const earlier = columnOf.get(target);
      if (earlier !== undefined) {
        throw new DatasetFormatError(
          path,
          `${path} has the column "${name.trim()}" twice (columns ${earlier + 1} and ${column + 1}); keep one.`,
        );
      }
      columnOf.set(target, column);
      columnTarget[column] = target;
    });
    const missing = [...wanted.entries()]
      .filter(([, target]) => !columnOf.has(target))
      .map(([, target]) => {
        const spec = FEATURES[target];
        return spec === undefined ? `"${LABEL_CSV_HEADER}" (label)` : `"${spec.csvHeader}" (${spec.name})`;
      });
    if (missing.length > 0) {
      throw new DatasetFormatError(
        path,
        `${path} lacks ${missing.length === 1 ? "a required column" : `${missing.length} required columns`}: ` +
          `${missing.join(", ")}. Headers found: ${found.map((h) => JSON.stringify(h.trim())).join(", ")}. ` +
          `Names are matched ignoring case, order and surrounding white space.`,
      );
    }
    return new RowParser(found.length, columnTarget, estimateRows(sample, dataStart, size));
  }

  /** Parses one data line, `buf[start, end)` without its LF; `line` is 1-based. */
  parseLine(buf: Buffer, start: number, end: number, line: number): void {
    if (end > start && buf[end - 1] === CR) end--;
    if (end === start) {
      this.blankLines++;
      return;
    }
    this.rowsRead++;
    if (this.kept === this.capacity) this.grow();
    this.problems = 0;
    this.label = -1;
    this.mappedSeen = 0;
    this.line = line;
    const base = this.kept * FEATURE_COUNT;
    const column =
      buf[start] === QUOTE
        ? this.cellsFrom(buf, start, end, 0, base)
        : this.plainCells(buf, start, end, base);
    if (this.mappedSeen < this.mappedColumns) {
      for (let c = column; c < this.headerCells; c++) {
        const target = this.columnTarget[c] ?? IGNORED;
        if (target !== IGNORED) this.problem(MISSING, target, buf, end, end);
      }
    }
    if (this.problems === 0) {
      this.store.labels[this.kept] = this.label;
      this.labelsKept[this.label] = (this.labelsKept[this.label] ?? 0) + 1;
      if (!this.dedup.add(this.store, this.kept)) this.duplicates++;
      this.kept++;
      return;
    }
    const reason = 31 - Math.clz32(this.problems & -this.problems);
    this.rowsByReason[reason] = (this.rowsByReason[reason] ?? 0) + 1;
    const text = buf.toString("latin1", start, end);
    if (this.droppedLines.has(text)) this.duplicates++;
    else this.droppedLines.add(text);
  }

  /**
   * The hot path: cells are scanned once, and a plain decimal in a numeric or label column
   * is converted during the scan. Anything else (empty, gender, signs, spaces, exponents)
   * goes to `cell`; a quoted cell hands the rest of the line to `cellsFrom`. Returns the
   * number of cells.
   */
  private plainCells(buf: Buffer, start: number, end: number, base: number): number {
    const targets = this.columnTarget;
    const features = this.store.features;
    let column = 0;
    let cellStart = start;
    let mantissa = 0;
    let digits = 0;
    let decimals = 0;
    let dot = false;
    let plain = true;
    for (let i = start; ; i++) {
      const b = i < end ? (buf[i] ?? 0) : COMMA;
      if (b >= ZERO && b <= NINE) {
        mantissa = mantissa * 10 + (b - ZERO);
        digits++;
        if (dot) decimals++;
        continue;
      }
      if (b !== COMMA) {
        if (b === DOT && !dot) dot = true;
        else plain = false;
        continue;
      }
      const target = column < this.headerCells ? (targets[column] ?? IGNORED) : EXTRA_TARGET;
      if (
        plain &&
        digits > 0 &&
        digits <= 15 &&
        target >= 0 &&
        target < FEATURE_COUNT &&
        this.isGender[target] === 0
      ) {
        this.mappedSeen++;
        const value = decimals === 0 ? mantissa : mantissa / (POW10[decimals] ?? 1);
        if (value < (this.min[target] ?? 0) || value > (this.max[target] ?? 0))
          this.problem(OUT_OF_RANGE, target, buf, cellStart, i);
        else features[base + target] = value;
      } else if (
        plain &&
        digits === 1 &&
        !dot &&
        target === LABEL_TARGET &&
        (mantissa === 1 || mantissa === 2)
      ) {
        this.mappedSeen++;
        this.label = mantissa === 1 ? LABEL.liverDisease : LABEL.noLiverDisease;
        this.labelsRead[this.label] = (this.labelsRead[this.label] ?? 0) + 1;
      } else {
        this.cell(buf, cellStart, i, column, base);
      }
      column++;
      if (i >= end) return column;
      cellStart = i + 1;
      if (buf[cellStart] === QUOTE && cellStart < end)
        return this.cellsFrom(buf, cellStart, end, column, base);
      mantissa = 0;
      digits = 0;
      decimals = 0;
      dot = false;
      plain = true;
    }
  }

  /** Cells from `i` (column `column`) to the end of the line, honouring quotes; returns the cell count. */
  private cellsFrom(buf: Buffer, i: number, end: number, column: number, base: number): number {
    for (;;) {
      if (buf[i] === QUOTE && i < end) {
        i = this.quotedCell(buf, i, end, column, base);
      } else {
        let j = i;
        while (j < end && buf[j] !== COMMA) j++;
        this.cell(buf, i, j, column, base);
        i = j;
      }
      column++;
      if (i >= end) return column;
      i++; // past the comma; a trailing comma yields one more (empty) cell
      if (i === end) {
        this.cell(buf, i, i, column, base);
        return column + 1;
      }
    }
  }

  /** A cell starting with a double quote: unquoted into the scratch buffer; returns where it ends. */
  private quotedCell(buf: Buffer, start: number, end: number, column: number, base: number): number {
    if (this.scratch.length < end - start) this.scratch = Buffer.alloc(2 * (end - start));
    const out = this.scratch;
    let n = 0;
    let i = start + 1;
    while (i < end) {
      const b = buf[i] ?? 0;
      if (b === QUOTE) {
        if (buf[i + 1] === QUOTE) {
          out[n++] = QUOTE;
          i += 2;
          continue;
        }
        i++;
        break;
      }
      out[n++] = b;
      i++;
    }
    while (i < end && buf[i] !== COMMA) out[n++] = buf[i++] ?? 0;
    this.cell(out, 0, n, column, base);
    return i;
  }

  private cell(buf: Buffer, start: number, end: number, column: number, base: number): void {
    const target = column < this.headerCells ? (this.columnTarget[column] ?? IGNORED) : EXTRA_TARGET;
    if (target === IGNORED) return;
    while (start < end && isBlank(buf[start])) start++;
    while (end > start && isBlank(buf[end - 1])) end--;
    if (target === EXTRA_TARGET) {
      if (end > start) this.problem(UNPARSEABLE, EXTRA_TARGET, buf, start, end);
      return;
    }
    this.mappedSeen++;
    if (start === end) {
      this.problem(MISSING, target, buf, start, end);
      return;
    }
    if (target === LABEL_TARGET) {
      const value = parseNumber(buf, start, end);
      if (value === 1) this.label = LABEL.liverDisease;
      else if (value === 2) this.label = LABEL.noLiverDisease;
      else {
        this.problem(BAD_LABEL, LABEL_TARGET, buf, start, end);
        return;
      }
      this.labelsRead[this.label] = (this.labelsRead[this.label] ?? 0) + 1;
      return;
    }
    if (this.isGender[target] === 1) {
      const code = parseGender(buf, start, end);
      if (code < 0) this.problem(UNPARSEABLE, target, buf, start, end);
      else this.store.features[base + target] = code;
      return;
    }
    const value = parseNumber(buf, start, end);
    if (Number.isNaN(value)) this.problem(UNPARSEABLE, target, buf, start, end);
    else if (value < (this.min[target] ?? 0) || value > (this.max[target] ?? 0))
      this.problem(OUT_OF_RANGE, target, buf, start, end);
    else this.store.features[base + target] = value;
  }

  private problem(reason: number, target: number, buf: Buffer, start: number, end: number): void {
    const slot = reason * TARGETS + target;
    this.cellCounts[slot] = (this.cellCounts[slot] ?? 0) + 1;
    this.problems |= 1 << reason;
    const shown = this.examplesByReason[reason] ?? 0;
    if (shown < EXAMPLES_PER_REASON) {
      this.examplesByReason[reason] = shown + 1;
      this.examples.push({
        reason: DROP_REASONS[reason] ?? "unparseable",
        line: this.line,
        column: columnName(target),
        value: buf.toString("latin1", start, end),
      });
    }
  }

  private grow(): void {
    const capacity = Math.ceil(this.capacity * 1.5) + 1024;
    const features = new Float64Array(capacity * FEATURE_COUNT);
    features.set(this.store.features);
    const labels = new Uint8Array(capacity);
    labels.set(this.store.labels);
    this.store = { features, labels };
    this.capacity = capacity;
  }

  /** Builds the dataset and report; throws when no row could be used. */
  finish(path: string, absolute: string, bytes: number, started: number): LoadedLpdCsv {
    const dropped = Object.fromEntries(
      DROP_REASONS.map((reason, r) => {
        const cellsByColumn: Partial<Record<LpdColumn, number>> = {};
        for (let t = 0; t < TARGETS; t++) {
          const n = this.cellCounts[r * TARGETS + t] ?? 0;
          if (n > 0) cellsByColumn[columnName(t)] = n;
        }
        return [reason, { rows: this.rowsByReason[r] ?? 0, cellsByColumn }];
      }),
    ) as LoadReport["dropped"];
    const report: LoadReport = {
      path: absolute,
      bytes,
      rowsRead: this.rowsRead,
      rowsKept: this.kept,
      rowsDropped: this.rowsRead - this.kept,
      dropped,
      blankLines: this.blankLines,
      exactDuplicateRows: this.duplicates,
      uniqueKeptRows: this.dedup.size,
      labelsRead: { liverDisease: this.labelsRead[1] ?? 0, noLiverDisease: this.labelsRead[0] ?? 0 },
      labelsKept: { liverDisease: this.labelsKept[1] ?? 0, noLiverDisease: this.labelsKept[0] ?? 0 },
      examples: this.examples,
      elapsedMs: 0,
    };
    if (this.rowsRead === 0) {
      throw new DatasetFormatError(path, `${absolute} has a header row but no data rows.`);
    }
    if (this.kept === 0) {
      report.elapsedMs = performance.now() - started;
      throw new DatasetFormatError(
        path,
        `${absolute} has no usable row: all ${this.rowsRead} rows were dropped.\n${formatLoadReport(report)}`,
      );
    }
    const full = { rows: this.capacity, ...this.store, source: "real" as const };
    // Give back a large over-estimate; a small one is cheaper to keep than to copy.
    const dataset =
      this.capacity - this.kept > Math.max(1024, this.kept / 10)
        ? {
            rows: this.kept,
            features: this.store.features.slice(0, this.kept * FEATURE_COUNT),
            labels: this.store.labels.slice(0, this.kept),
            source: "real" as const,
          }
        : truncateDataset(full, this.kept);
    report.elapsedMs = performance.now() - started;
    return { dataset, report };
  }
}

function columnName(target: number): LpdColumn {
  if (target === LABEL_TARGET) return "label";
  if (target === EXTRA_TARGET) return "(extra cells)";
  return FEATURES[target]?.name ?? "(extra cells)";
}

/** Rows to allocate for: file size over the average line length of the first chunk, plus 5%. */
function estimateRows(sample: Buffer, dataStart: number, size: number): number {
  let lines = 0;
  let pos = dataStart;
  while (pos < sample.length) {
    const next = sample.indexOf(LF, pos);
    if (next === -1) break;
    lines++;
    pos = next + 1;
  }
  if (lines === 0) return 1024;
  const bytesPerLine = (pos - dataStart) / lines;
  return Math.ceil((size / bytesPerLine) * 1.05) + 16;
}

function isBlank(b: number | undefined): boolean {
  return b === SPACE || b === TAB || b === NBSP;
}

/** GENDER_CODE for "male"/"female" in any case; -1 otherwise. No closures: this runs per row. */
function parseGender(buf: Buffer, start: number, end: number): number {
  const len = end - start;
  let offset = start;
  if (len === 6) {
    // "fe" then the same "male" as below.
    if (((buf[start] ?? 0) | 0x20) !== 0x66 || ((buf[start + 1] ?? 0) | 0x20) !== 0x65) return -1;
    offset += 2;
  } else if (len !== 4) return -1;
  // | 0x20 lower-cases ASCII letters.
  if (
    ((buf[offset] ?? 0) | 0x20) !== 0x6d ||
    ((buf[offset + 1] ?? 0) | 0x20) !== 0x61 ||
    ((buf[offset + 2] ?? 0) | 0x20) !== 0x6c ||
    ((buf[offset + 3] ?? 0) | 0x20) !== 0x65
  )
    return -1;
  return len === 6 ? GENDER_CODE.female : GENDER_CODE.male;
}

/**
 * A decimal number from bytes, NaN when it is not one. Plain decimals with up to 15 digits
 * (all of the LPD file) are converted without a string; anything else (exponents, longer
 * numbers) goes through Number() after a strict syntax check, so "0x1F" or "Infinity" are
 * unparseable rather than silently accepted.
 */
function parseNumber(buf: Buffer, start: number, end: number): number {
  let i = start;
  let negative = false;
  const sign = buf[i];
  if (sign === MINUS || sign === PLUS) {
    negative = sign === MINUS;
    i++;
  }
  let mantissa = 0;
  let digits = 0;
  let decimals = 0;
  let dot = false;
  for (; i < end; i++) {
    const b = buf[i] ?? 0;
    if (b >= ZERO && b <= NINE) {
      mantissa = mantissa * 10 + (b - ZERO);
      digits++;
      if (dot) decimals++;
    } else if (b === DOT && !dot) dot = true;
    else break;
  }
  if (i === end && digits > 0 && digits <= 15) {
    const value = decimals === 0 ? mantissa : mantissa / (POW10[decimals] ?? 1);
    return negative ? -value : value;
  }
  const text = buf.toString("latin1", start, end);
  return NUMBER_PATTERN.test(text) ? Number(text) : Number.NaN;
}
