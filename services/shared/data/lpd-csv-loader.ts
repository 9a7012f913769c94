import { isUtf8 } from "node:buffer";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import Papa from "papaparse";
import { FEATURE_COUNT, FEATURES, GENDER_CODE, LABEL, LABEL_CSV_HEADER } from "../features/feature-schema.js";
import type { Dataset } from "./dataset.js";
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
  /** Aborts the load; the promise then rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
}

/** A loaded CSV: the kept rows (source "real") and the account of what was read and dropped. */
export interface LoadedLpdCsv {
  dataset: Dataset;
  report: LoadReport;
}

/** How far into the file to look for NUL bytes before calling it binary. */
const BINARY_PROBE_BYTES = 64 * 1024;
const EXAMPLES_PER_REASON = 5;
/** Characters papaparse hands over at a time. */
const CHUNK_CHARS = 1 << 18;
/** A column's target besides feature indices 0..FEATURE_COUNT-1. */
const LABEL_TARGET = FEATURE_COUNT;
const EXTRA_TARGET = FEATURE_COUNT + 1;
const NUMBER_PATTERN = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** Cell padding the published file has: spaces, tabs and no-break spaces. */
const BLANK_EDGES = /^[ \t\u00a0]+|[ \t\u00a0]+$/g;

/**
 * Loads the LPD CSV as it is published (latin-1 or UTF-8, CRLF or LF, a header row whose
 * names may carry no-break spaces, missing cells, duplicate rows) into a Dataset in FEATURES
 * order with the schema's gender coding; label 1 = liver disease (CSV "1"), 0 = none (CSV "2").
 *
 * Columns are found by the schema's csvHeader (trimmed, case-insensitive, any order; other
 * columns are ignored). A row with a missing, unparseable or out-of-range cell or a bad
 * label is dropped and counted in the report; duplicate rows are kept and counted. Whole-
 * file problems (not found, empty, binary, wrong delimiter, missing columns, no usable row)
 * throw DatasetFormatError. papaparse does the CSV syntax (quotes, line ends); the file is
 * read once per store (retrains read SQLite), so it is parsed in one piece.
 */
export async function loadLpdCsv(path: string, options: LoadLpdCsvOptions = {}): Promise<LoadedLpdCsv> {
  const started = performance.now();
  const { signal } = options;
  signal?.throwIfAborted();
  const absolute = resolve(path);
  let bytes: Buffer;
  try {
    bytes = await readFile(absolute, { signal });
  } catch (error) {
    signal?.throwIfAborted();
    throw accessError(path, absolute, error);
  }
  signal?.throwIfAborted();
  if (bytes.length === 0) {
    throw new DatasetFormatError(
      path,
      `${absolute} is empty (0 bytes); expected the LPD CSV with a header row and data rows.`,
    );
  }
  const text = decodeText(path, bytes);
  const loader = RowLoader.fromHeader(path, text);
  // A quoted cell may span lines; then the next record starts after them.
  const quoted = text.includes('"');
  let line = 1;
  // Chunks, so each chunk's cells die young instead of the whole file's living at once.
  Papa.parse<string[]>(text.replace(/\r?\n$/, ""), {
    delimiter: ",",
    skipEmptyLines: false,
    chunkSize: CHUNK_CHARS,
    // papaparse calls chunk and complete synchronously for a string.
    complete: () => undefined,
    chunk: ({ data }: Papa.ParseResult<string[]>) => {
      for (const record of data) {
        if (line > 1) loader.row(record, line);
        if (quoted) for (const cell of record) line += cell.split("\n").length - 1;
        line++;
      }
    },
  });
  return loader.finish(path, absolute, bytes.length, started);
}

function accessError(path: string, absolute: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EISDIR") {
    return new DatasetFormatError(path, `${absolute} is a directory; expected the LPD CSV file itself.`);
  }
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

/**
 * The file's text: binary and UTF-16 files are rejected; UTF-8 when it is valid UTF-8 (a
 * BOM is dropped), else latin-1 as the published LPD file is.
 */
function decodeText(path: string, bytes: Buffer): string {
  if (
    bytes.length >= 2 &&
    ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))
  ) {
    throw new DatasetFormatError(
      path,
      `${path} is UTF-16 text; save it as a comma-separated CSV in UTF-8 or latin-1 (Windows-1252) instead.`,
    );
  }
  const nul = bytes.subarray(0, BINARY_PROBE_BYTES).indexOf(0);
  if (nul !== -1) {
    throw new DatasetFormatError(
      path,
      `${path} is a binary file (NUL byte at offset ${nul}), not a CSV: a spreadsheet, archive or ` +
        `compressed file? Export it as comma-separated CSV text.`,
    );
  }
  return bytes.toString(isUtf8(bytes) ? "utf8" : "latin1").replace(/^\uFEFF/, "");
}

/** Header comparison key: white space (including U+00A0 and BOM) trimmed and collapsed, lower case. */
export function normaliseHeader(name: string): string {
  return name
    .replace(/[\s\uFEFF]+/g, " ")
    .trim()
    .toLowerCase();
}

/** The header line; throws for CR-only line ends and for any delimiter but a comma. */
function headerLine(path: string, text: string): string {
  const lf = text.indexOf("\n");
  const line = (lf === -1 ? text : text.slice(0, lf)).replace(/\r$/, "");
  if (line.includes("\r")) {
    throw new DatasetFormatError(
      path,
      `${path} uses CR-only line ends (old Mac style), so the whole file reads as one line; ` +
        `save it with LF or CRLF line ends.`,
    );
  }
  const count = (ch: string): number => line.split(ch).length - 1;
  const commas = count(",");
  const [name, found] = (
    [
      ["semicolon (;)", count(";")],
      ["tab", count("\t")],
      ["pipe (|)", count("|")],
    ] as const
  ).reduce((best, c) => (c[1] > best[1] ? c : best));
  if (found > commas) {
    throw new DatasetFormatError(
      path,
      `${path} uses ${name} as its delimiter (${found} in the header row, ${commas} commas); ` +
        `a comma-separated file is expected. Re-export it with commas (in a spreadsheet: CSV, comma delimited).`,
    );
  }
  return line;
}

/** Maps columns to targets, turns records into rows and keeps every counter of the report. */
class RowLoader {
  private readonly store: RowStore;
  private kept = 0;
  private rowsRead = 0;
  private blankLines = 0;
  private duplicates = 0;
  private readonly dedup: RowDeduplicator;
  private readonly droppedLines = new Set<string>();
  /** Per reason, per target (features, label, extra cells): cells with that problem. */
  private readonly cellCounts = DROP_REASONS.map(() => new Map<number, number>());
  private readonly rowsByReason = DROP_REASONS.map(() => 0);
  private readonly examples: DropExample[] = [];
  private readonly examplesByReason = DROP_REASONS.map(() => 0);
  private readonly labelsRead = [0, 0];
  private readonly labelsKept = [0, 0];
  /** The current row's file line and problems (a bit per DROP_REASONS index). */
  private line = 0;
  private problems = 0;

  private constructor(
    /** Target of each column: a feature index, LABEL_TARGET, or undefined for ignored columns. */
    private readonly columnTarget: readonly (number | undefined)[],
    expectedRows: number,
  ) {
    this.store = {
      features: new Float64Array(expectedRows * FEATURE_COUNT),
      labels: new Uint8Array(expectedRows),
    };
    this.dedup = new RowDeduplicator(expectedRows);
  }

  /** Maps the header's columns to features; throws when a required column is missing or doubled. */
  static fromHeader(path: string, text: string): RowLoader {
    const line = headerLine(path, text);
    const found = Papa.parse<string[]>(line, { delimiter: "," }).data[0] ?? [];
    if (text.length === 0 || found.length === 0) {
      throw new DatasetFormatError(path, `${path} has no header row; expected the LPD CSV.`);
    }
    const wanted = new Map<string, number>();
    FEATURES.forEach((spec, i) => wanted.set(normaliseHeader(spec.csvHeader), i));
    wanted.set(normaliseHeader(LABEL_CSV_HEADER), LABEL_TARGET);
    const columnOf = new Map<number, number>();
    const columnTarget = found.map((name, column) => {
      const target = wanted.get(normaliseHeader(name));
      if (target === undefined) return undefined;
      const earlier = columnOf.get(target);
      if (earlier !== undefined) {
        throw new DatasetFormatError(
          path,
          `${path} has the column "${name.trim()}" twice (columns ${earlier + 1} and ${column + 1}); keep one.`,
        );
      }
      columnOf.set(target, column);
      return target;
    });
    const missing = [...wanted.values()]
      .filter((target) => !columnOf.has(target))
      .map((target) => {
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
    // Records never outnumber lines (a quoted cell may join lines), so the row arrays need no growing.
    let lines = 1;
    for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) lines++;
    return new RowLoader(columnTarget, lines);
  }

  /** One data record, from file line `line`. */
  row(record: readonly string[], line: number): void {
    // A blank line: papaparse reads it as one empty cell.
    if (record.length === 1 && record[0] === "") {
      this.blankLines++;
      return;
    }
    this.rowsRead++;
    const base = this.kept * FEATURE_COUNT;
    this.problems = 0;
    this.line = line;
    let label = -1;
    const flag = this.flag;
    const cells = Math.max(record.length, this.columnTarget.length);
    for (let column = 0; column < cells; column++) {
      const target = column < this.columnTarget.length ? this.columnTarget[column] : EXTRA_TARGET;
      if (target === undefined) continue;
      const cell = trimCell(record[column] ?? "");
      if (target === EXTRA_TARGET) {
        if (cell !== "") flag("unparseable", EXTRA_TARGET, cell);
      } else if (cell === "") {
        flag("missing", target, cell);
      } else if (target === LABEL_TARGET) {
        const value = parseNumber(cell);
        if (value === 1 || value === 2) {
          label = value === 1 ? LABEL.liverDisease : LABEL.noLiverDisease;
          this.labelsRead[label] = (this.labelsRead[label] ?? 0) + 1;
        } else flag("badLabel", LABEL_TARGET, cell);
      } else {
        const spec = FEATURES[target];
        if (spec === undefined) continue;
        const value = spec.kind === "gender" ? parseGender(cell) : parseNumber(cell);
        if (Number.isNaN(value)) flag("unparseable", target, cell);
        else if (spec.kind !== "gender" && (value < spec.min || value > spec.max))
          flag("outOfRange", target, cell);
        else this.store.features[base + target] = value;
      }
    }
    if (this.problems === 0) {
      this.store.labels[this.kept] = label;
      this.labelsKept[label] = (this.labelsKept[label] ?? 0) + 1;
      if (!this.dedup.add(this.store, this.kept)) this.duplicates++;
      this.kept++;
      return;
    }
    // Counted once, under its first reason.
    const reason = 31 - Math.clz32(this.problems & -this.problems);
    this.rowsByReason[reason] = (this.rowsByReason[reason] ?? 0) + 1;
    const key = record.join("\u0000");
    if (this.droppedLines.has(key)) this.duplicates++;
    else this.droppedLines.add(key);
  }

  /** Counts a problem `reason` of the current row's cell in column `target`. */
  private readonly flag = (reason: DropReason, target: number, value: string): void => {
    const r = DROP_REASONS.indexOf(reason);
    const counts = this.cellCounts[r] ?? new Map<number, number>();
    counts.set(target, (counts.get(target) ?? 0) + 1);
    this.problems |= 1 << r;
    if ((this.examplesByReason[r] ?? 0) < EXAMPLES_PER_REASON) {
      this.examplesByReason[r] = (this.examplesByReason[r] ?? 0) + 1;
      this.examples.push({ reason, line: this.line, column: columnName(target), value });
    }
  };

  /** Builds the dataset and report; throws when no row could be used. */
  finish(path: string, absolute: string, bytes: number, started: number): LoadedLpdCsv {
    const dropped = Object.fromEntries(
      DROP_REASONS.map((reason, r) => {
        const cellsByColumn: Partial<Record<LpdColumn, number>> = {};
        for (const [target, n] of [...(this.cellCounts[r] ?? [])].sort(([a], [b]) => a - b)) {
          cellsByColumn[columnName(target)] = n;
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
    const dataset: Dataset = {
      rows: this.kept,
      features: this.store.features.slice(0, this.kept * FEATURE_COUNT),
      labels: this.store.labels.slice(0, this.kept),
      source: "real",
    };
    report.elapsedMs = performance.now() - started;
    return { dataset, report };
  }
}

/** The cell without the spaces, tabs and no-break spaces around it. */
function trimCell(cell: string): string {
  const first = cell.charCodeAt(0);
  const last = cell.charCodeAt(cell.length - 1);
  return first === 0x20 || first === 0x09 || first === 0xa0 || last === 0x20 || last === 0x09 || last === 0xa0
    ? cell.replace(BLANK_EDGES, "")
    : cell;
}

function columnName(target: number): LpdColumn {
  if (target === LABEL_TARGET) return "label";
  return FEATURES[target]?.name ?? "(extra cells)";
}

/** GENDER_CODE for "male"/"female" in any case; NaN otherwise. */
function parseGender(cell: string): number {
  const lower = cell.toLowerCase();
  if (lower === "male") return GENDER_CODE.male;
  return lower === "female" ? GENDER_CODE.female : Number.NaN;
}

/** A decimal number, NaN when it is not one: "0x1F" or "Infinity" are unparseable, not accepted. */
function parseNumber(cell: string): number {
  return NUMBER_PATTERN.test(cell) ? Number(cell) : Number.NaN;
}
