/**
 * `npm run export-feedback`: writes the stored feedback as feedback_data.csv in the
 * original system's layout (the LPD CSV columns, Gender as Male/Female, Result 1 = liver
 * disease and 2 = none, plus a timestamp column), for people whose scripts read that file.
 * The store is opened read-only, so this works while the RetrainService runs.
 */
import { closeSync, existsSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { FEATURES, GENDER_CODE, LABEL, LABEL_CSV_HEADER } from "../shared/features/feature-schema.js";
import { readString } from "../shared/ops/env-config.js";
import { STORE_FILE_NAME } from "./retrain-config.js";
import { FeedbackStore, type StoredFeedback } from "./store/feedback-store.js";
import { openSqliteStore } from "./store/sqlite-store.js";

/** The file name the original system used. */
export const FEEDBACK_CSV_NAME = "feedback_data.csv";

/** Options of exportFeedbackCsv. */
export interface ExportFeedbackOptions {
  /** The SQLite store of the RetrainService. */
  readonly storeFile: string;
  /** Where to write the CSV (replaced atomically). */
  readonly outFile: string;
  /** Also write "don't know" feedback, with an empty Result. Default false: only rows that train. */
  readonly includeUnknown?: boolean;
  /** Also write quarantined and operator-excluded feedback. Default false: only rows that train. */
  readonly includeHeldBack?: boolean;
}

/** What was written. */
export interface ExportFeedbackResult {
  readonly outFile: string;
  readonly rows: number;
  readonly skippedUnknown: number;
  /** Quarantined or excluded rows left out. */
  readonly skippedHeldBack: number;
}

/** The CSV header: the LPD columns in schema order, the label, then the timestamp. */
export function feedbackCsvHeader(): string {
  return [...FEATURES.map((spec) => spec.csvHeader), LABEL_CSV_HEADER, "timestamp"].join(",");
}

/** One feedback as a CSV line (no line end). */
export function feedbackCsvLine(feedback: StoredFeedback): string {
  const cells = FEATURES.map((spec, i) => {
    const value = feedback.features[i] ?? Number.NaN;
    if (spec.kind === "gender") return value === GENDER_CODE.male ? "Male" : "Female";
    return String(value);
  });
  const result = feedback.label === null ? "" : feedback.label === LABEL.liverDisease ? "1" : "2";
  return [...cells, result, new Date(feedback.receivedAtMs).toISOString()].join(",");
}

/**
 * Writes the CSV to a temporary sibling and renames it into place, so a reader never sees
 * half a file. Rows stream from the store one at a time.
 */
export function exportFeedbackCsv(options: ExportFeedbackOptions): ExportFeedbackResult {
  if (!existsSync(options.storeFile)) {
    throw new Error(
      `no RetrainService store at ${options.storeFile}; set DATA_PATH to the RetrainService's data folder`,
    );
  }
  const db = openSqliteStore(options.storeFile, { readonly: true });
  const temp = `${options.outFile}.tmp-${process.pid}`;
  let rows = 0;
  let skippedUnknown = 0;
  let skippedHeldBack = 0;
  try {
    const fd = openSync(temp, "w");
    try {
      writeSync(fd, `${feedbackCsvHeader()}\r\n`);
      for (const feedback of new FeedbackStore(db).all()) {
        if (feedback.label === null && options.includeUnknown !== true) {
          skippedUnknown++;
          continue;
        }
        if (feedback.label !== null && feedback.state !== "trained" && options.includeHeldBack !== true) {
          skippedHeldBack++;
          continue;
        }
        writeSync(fd, `${feedbackCsvLine(feedback)}\r\n`);
        rows++;
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, options.outFile);
  } finally {
    db.close();
  }
  return { outFile: options.outFile, rows, skippedUnknown, skippedHeldBack };
}

const HELP = `Usage: npm run export-feedback -- [--out FILE] [--include-unknown] [--include-held-back]

Writes the RetrainService's stored feedback as ${FEEDBACK_CSV_NAME}: the columns of the
original LPD CSV (Gender as Male/Female, Result 1 = liver disease, 2 = none) and a
timestamp column (ISO 8601, when the feedback was received).

Options:
  --out FILE           where to write (default: $DATA_PATH/${FEEDBACK_CSV_NAME})
  --include-unknown    also write "don't know" feedback, with an empty Result
  --include-held-back  also write feedback that does not train: quarantined by screening
                       or excluded by an operator (ExcludeFeedback)
  -h, --help           show this help

Environment: DATA_PATH (default data/) holds the store (${STORE_FILE_NAME}).`;

function main(argv: readonly string[]): number {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      out: { type: "string" },
      "include-unknown": { type: "boolean", default: false },
      "include-held-back": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const dataPath = path.resolve(readString(process.env, "DATA_PATH", "data/"));
  const result = exportFeedbackCsv({
    storeFile: path.join(dataPath, STORE_FILE_NAME),
    outFile: path.resolve(values.out ?? path.join(dataPath, FEEDBACK_CSV_NAME)),
    includeUnknown: values["include-unknown"],
    includeHeldBack: values["include-held-back"],
  });
  const left = [
    ...(result.skippedUnknown > 0
      ? [`${result.skippedUnknown} "don't know" left out; --include-unknown adds them`]
      : []),
    ...(result.skippedHeldBack > 0
      ? [`${result.skippedHeldBack} quarantined or excluded left out; --include-held-back adds them`]
      : []),
  ];
  const skipped = left.length > 0 ? ` (${left.join("; ")})` : "";
  console.log(`export-feedback: wrote ${result.rows} feedback row(s) to ${result.outFile}${skipped}`);
  return 0;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (error) {
    console.error(`export-feedback: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
