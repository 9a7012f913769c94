import { constants, isUtf8 } from "node:buffer";
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
  type DropReason,
  type LabelCounts,
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
/** A column's target besides feature indices 0..FEATURE_COUNT-1. */
const LABEL_TARGET = FEATURE_COUNT;
const EXTRA_TARGET = FEATURE_COUNT + 1;
/** One way only to match any digits (`\d+\.?\d*` had n, so a long non-number took quadratic time). */
const NUMBER_PATTERN = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
/**
 * How records are read: every LF ends a line (a guess would miss LFs after CRLFs; a CR is trimmed
 * off the last cell), and no fast mode, which splits a quote-free file into all its lines first.
 */
const CSV_SYNTAX = { delimiter: ",", newline: "\n", fastMode: false } as const;

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
  // Its text is one string, and V8 caps a string's length (readFile refuses over 2 GiB itself).
  if (bytes.length > constants.MAX_STRING_LENGTH)
    throw accessError(path, absolute, { code: "ERR_FS_FILE_TOO_LARGE" });
  const text = decodeText(path, bytes);
  // A kept row has FEATURE_COUNT + 1 non-empty cells, commas between them and a line end, so
  // arrays of this many rows need no growing (by lines, blank lines would cost 80 bytes each).
  const rows = Math.ceil(text.length / (2 * FEATURE_COUNT + 2));
  const header = headerCells(path, text);
  const loader = new RowLoader(columnTargets(path, header), header.length, rows, absolute, bytes.length);
  // A quoted cell may span lines; then the next record starts after them.
  const quoted = text.includes('"');
  let line = 1;
  // A record at a time (synchronously, for a string), so its cells die young instead of the
  // whole file's living at once.
  Papa.parse<string[]>(text.replace(/\r?\n$/, ""), {
    ...CSV_SYNTAX,
    step: ({ data: record, errors: [quoteError] }) => {
      // Its only errors are quotes that do not close a cell: the lines after would run together.
      if (quoteError)
        throw new DatasetFormatError(path, `${path} line ${line}: ${quoteError.message}; fix the quote.`);
      if (line > 1) loader.row(record, line);
      if (quoted) for (const cell of record) line += cell.split("\n").length - 1;
      line++;
    },
  });
  return loader.finish(path, started);
}

function accessError(path: string, absolute: string, error: unknown): Error {
  const notFound = `CSV file not found: ${absolute}. Check the path (and its spelling).`;
  const denied = `Cannot read ${absolute}: permission denied. Make the file readable for this user.`;
  const byCode: Record<string, string | undefined> = {
    EISDIR: `${absolute} is a directory; expected the LPD CSV file itself.`,
    ERR_FS_FILE_TOO_LARGE: `${absolute} is over 512 MiB, more than the loader reads; keep the rows and columns needed.`,
    ENOENT: notFound,
    ENOTDIR: notFound,
    EACCES: denied,
    EPERM: denied,
  };
  const message = byCode[(error as NodeJS.ErrnoException | undefined)?.code ?? ""];
  if (message !== undefined) return new DatasetFormatError(path, message, { cause: error });
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * The file's text: binary and UTF-16 files are rejected; UTF-8 when it is valid UTF-8, else
 * latin-1 as the published LPD file is. A first line that is not ASCII decides alone (the cells
 * read are ASCII, so a latin-1 byte further down cannot spoil UTF-8 names). A UTF-8 BOM is
 * dropped, also when read as latin-1.
 */
function decodeText(path: string, bytes: Buffer): string {
  const bom = bytes.length >= 2 ? bytes.readUInt16BE(0) : 0;
  if (bom === 0xfffe || bom === 0xfeff) {
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
  const first = bytes.subarray(0, bytes.includes(0x0a) ? bytes.indexOf(0x0a) : bytes.length);
  return bytes
    .toString(isUtf8(first.some((byte) => byte > 0x7f) ? first : bytes) ? "utf8" : "latin1")
    .replace(/^(?:\uFEFF|\u00EF\u00BB\u00BF)/, "");
}

/** Header comparison key: white space and invisible format characters trimmed and collapsed, lower case. */
export function normaliseHeader(name: string): string {
  return name
    .replace(/[\s\p{Cf}]+/gu, " ")
    .trim()
    .toLowerCase();
}

/** Delimiters a spreadsheet may export instead of commas, as messages name them. */
const OTHER_DELIMITERS: Record<string, string> = { ";": "semicolon (;)", "\t": "tab", "|": "pipe (|)" };

/**
 * The header row's cells; throws when there is none, for CR-only line ends and for any delimiter but a comma
 * (when commas give too few cells, papaparse guesses it from the header alone: the one giving the most cells).
 */
function headerCells(path: string, text: string): string[] {
  const lf = text.indexOf("\n");
  const line = (lf === -1 ? text : text.slice(0, lf)).replace(/\r$/, "");
  if (line.includes("\r")) {
    throw new DatasetFormatError(
      path,
      `${path} uses CR-only line ends (old Mac style), so the whole file reads as one line; ` +
        `save it with LF or CRLF line ends.`,
    );
  }
  // The first record as the rows are read (a quoted name may span lines), whatever else a name holds.
  const [first = []] = Papa.parse<string[]>(text, { ...CSV_SYNTAX, preview: 1 }).data;
  if (first.length > FEATURE_COUNT) return first;
  const { data, meta } = Papa.parse<string[]>(line, { delimitersToGuess: [",", ";", "\t", "|"] });
  const cells = data[0] ?? [];
  const name = OTHER_DELIMITERS[meta.delimiter];
  if (name !== undefined) {
    throw new DatasetFormatError(
      path,
      `${path} uses ${name} as its delimiter (${cells.length - 1} in the header row, ` +
        `${cells.join("").split(",").length - 1} commas); a comma-separated file is expected. ` +
        `Re-export it with commas (in a spreadsheet: CSV, comma delimited).`,
    );
  }
  if (cells.length === 0) {
    throw new DatasetFormatError(path, `${path} has no header row; expected the LPD CSV.`);
  }
  return cells;
}

/** [target, column] of the required columns in column order; throws when one is missing or doubled. */
function columnTargets(path: string, found: readonly string[]): [number, number][] {
  const wanted = new Map<string, number>();
  FEATURES.forEach((spec, i) => wanted.set(normaliseHeader(spec.csvHeader), i));
  wanted.set(normaliseHeader(LABEL_CSV_HEADER), LABEL_TARGET);
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
  });
  const missing = [...wanted.values()]
    .filter((target) => !columnOf.has(target))
    .map((target) => {
      const spec = FEATURES[target];
      return spec === undefined ? `"${LABEL_CSV_HEADER}" (label)` : `"${spec.csvHeader}" (${spec.name})`;
    });
  if (missing.length > 0) {
    // A few, so that a wide header or a long name cannot flood the log.
    const shown = found.slice(0, 40).map((h) => JSON.stringify(h.trim().slice(0, 100)));
    if (found.length > 40) shown.push(`and ${found.length - 40} more`);
    throw new DatasetFormatError(
      path,
      `${path} lacks ${missing.length === 1 ? "a required column" : `${missing.length} required columns`}: ` +
        `${missing.join(", ")}. Headers found: ${shown.join(", ")}. ` +
        `Names are matched ignoring case, order and surrounding white space.`,
    );
  }
  return [...columnOf];
}

/** Index in DROP_REASONS of a row without problems (after every reason). */
const NO_PROBLEM = DROP_REASONS.length;

/** Turns records into rows and counts everything the report says as it goes. */
class RowLoader {
  private readonly store: RowStore;
  private readonly dedup: RowDeduplicator;
  private readonly droppedLines = new Set<string>();
  /** The report so far; finish sets rowsDropped, uniqueKeptRows and elapsedMs. */
  private readonly report: LoadReport;
  /** The current row's file line and the DROP_REASONS index of its first problem. */
  private line = 0;
  private firstProblem = NO_PROBLEM;

  constructor(
    /** [target, column] visited instead of every column of a wide header; cells past `width` are extra. */
    private readonly columns: readonly [number, number][],
    private readonly width: number,
    expectedRows: number,
    path: string,
    bytes: number,
  ) {
    this.store = {
      features: new Float64Array(expectedRows * FEATURE_COUNT),
      labels: new Uint8Array(expectedRows),
    };
    this.dedup = new RowDeduplicator(expectedRows);
    const dropped = Object.fromEntries(
      DROP_REASONS.map((reason) => [reason, { rows: 0, cellsByColumn: {} }]),
    );
    this.report = {
      path,
      bytes,
      rowsRead: 0,
      rowsKept: 0,
      rowsDropped: 0,
      dropped: dropped as LoadReport["dropped"],
      blankLines: 0,
      exactDuplicateRows: 0,
      uniqueKeptRows: 0,
      labelsRead: { liverDisease: 0, noLiverDisease: 0 },
      labelsKept: { liverDisease: 0, noLiverDisease: 0 },
      examples: [],
      elapsedMs: 0,
    };
  }

  /** One data record, from file line `line`. */
  row(record: readonly string[], line: number): void {
    const report = this.report;
    // A blank line: papaparse reads it as one empty cell (or a CR, or spaces).
    if (record.length === 1 && record[0]?.trim() === "") {
      report.blankLines++;
      return;
    }
    report.rowsRead++;
    const base = report.rowsKept * FEATURE_COUNT;
    this.firstProblem = NO_PROBLEM;
    this.line = line;
    let label: number = LABEL.noLiverDisease;
    for (const [target, column] of this.columns) {
      // White space around a cell is padding (the published file has spaces and no-break spaces).
      const cell = (record[column] ?? "").trim();
      if (cell === "") {
        this.flag("missing", target, cell);
      } else if (target === LABEL_TARGET) {
        const value = parseNumber(cell);
        if (value === 1 || value === 2) {
          label = value === 1 ? LABEL.liverDisease : LABEL.noLiverDisease;
          report.labelsRead[labelKey(label)]++;
        } else this.flag("badLabel", LABEL_TARGET, cell);
      } else {
        const spec = FEATURES[target];
        if (spec === undefined) continue;
        const value = spec.kind === "gender" ? parseGender(cell) : parseNumber(cell);
        if (Number.isNaN(value)) this.flag("unparseable", target, cell);
        else if (spec.kind !== "gender" && (value < spec.min || value > spec.max))
          this.flag("outOfRange", target, cell);
        else this.store.features[base + target] = value;
      }
    }
    for (let column = this.width; column < record.length; column++) {
      const extra = (record[column] ?? "").trim();
      if (extra !== "") this.flag("unparseable", EXTRA_TARGET, extra);
    }
    if (this.firstProblem === NO_PROBLEM) {
      this.store.labels[report.rowsKept] = label;
      report.labelsKept[labelKey(label)]++;
      if (!this.dedup.add(this.store, report.rowsKept)) report.exactDuplicateRows++;
      report.rowsKept++;
      return;
    }
    // Counted once, under its first reason.
    report.dropped[DROP_REASONS[this.firstProblem] as DropReason].rows++;
    const key = record.map((cell) => cell.trim()).join("\u0000");
    if (this.droppedLines.has(key)) report.exactDuplicateRows++;
    else this.droppedLines.add(key);
  }

  /** Counts a problem `reason` of the current row's cell in column `target`. */
  private flag(reason: DropReason, target: number, value: string): void {
    const { cellsByColumn } = this.report.dropped[reason];
    const column = columnName(target);
    cellsByColumn[column] = (cellsByColumn[column] ?? 0) + 1;
    this.firstProblem = Math.min(this.firstProblem, DROP_REASONS.indexOf(reason));
    const { examples } = this.report;
    if (examples.filter((example) => example.reason === reason).length < EXAMPLES_PER_REASON) {
      examples.push({ reason, line: this.line, column, value: value.slice(0, 100) });
    }
  }

  /** Builds the dataset and report; throws when no row could be used. */
  finish(path: string, started: number): LoadedLpdCsv {
    const report = this.report;
    const kept = report.rowsKept;
    report.rowsDropped = report.rowsRead - kept;
    report.uniqueKeptRows = this.dedup.size;
    if (report.rowsRead === 0) {
      throw new DatasetFormatError(path, `${report.path} has a header row but no data rows.`);
    }
    report.elapsedMs = performance.now() - started;
    if (kept === 0) {
      throw new DatasetFormatError(
        path,
        `${report.path} has no usable row: all ${report.rowsRead} rows were dropped.\n${formatLoadReport(report)}`,
      );
    }
    const dataset: Dataset = {
      rows: kept,
      features: this.store.features.slice(0, kept * FEATURE_COUNT),
      labels: this.store.labels.slice(0, kept),
      source: "real",
    };
    return { dataset, report };
  }
}

function labelKey(label: number): keyof LabelCounts {
  return label === LABEL.liverDisease ? "liverDisease" : "noLiverDisease";
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
