import { describeRange, FEATURES, LABEL_CSV_HEADER, type FeatureName } from "../features/feature-schema.js";

/** Why a row was dropped. Each dropped row counts once, under the first reason in DROP_REASONS order. */
export type DropReason = "missing" | "unparseable" | "outOfRange" | "badLabel";

/** Priority of the reasons: a row with a missing cell and a bad label counts as "missing". */
export const DROP_REASONS: readonly DropReason[] = ["missing", "unparseable", "outOfRange", "badLabel"];

/** A column the loader reads: a model input, the label, or cells beyond the header's width. */
export type LpdColumn = FeatureName | "label" | "(extra cells)";

/** Drops for one reason. */
export interface DropCounts {
  /** Rows dropped for this reason (each dropped row is counted under one reason only). */
  rows: number;
  /**
   * Cells with this problem by column, over every row read, including rows that were
   * dropped for a higher-priority reason; columns with no such cell are absent.
   */
  cellsByColumn: Partial<Record<LpdColumn, number>>;
}

/** One problem cell, kept (the first few per reason) so a person can find it in the file. */
export interface DropExample {
  reason: DropReason;
  /** 1-based line number in the file; the header is line 1. */
  line: number;
  column: LpdColumn;
  /** The cell as written (latin-1), trimmed, its first 100 characters; "" for a missing cell. */
  value: string;
}

/** Label counts; liver disease is label 1 (CSV "1"), none is label 0 (CSV "2"). */
export interface LabelCounts {
  liverDisease: number;
  noLiverDisease: number;
}

/**
 * What loading a CSV did: how much was read, what was dropped and why, and how repetitive
 * the kept rows are. Nothing is dropped without being counted here.
 */
export interface LoadReport {
  /** Absolute path of the file read. */
  path: string;
  bytes: number;
  /** Data rows (non-blank lines after the header). */
  rowsRead: number;
  rowsKept: number;
  rowsDropped: number;
  dropped: Record<DropReason, DropCounts>;
  /** Blank lines skipped (for example a final empty line); not rows. */
  blankLines: number;
  /**
   * Rows identical to an earlier row: the same values and label for kept rows, the same
   * cells (white space around them aside) for dropped rows. Kept in the dataset; the
   * holdout splitter deduplicates.
   */
  exactDuplicateRows: number;
  /** Distinct rows among the kept rows. */
  uniqueKeptRows: number;
  /** Labels of every row with a valid label, before dropping rows for other reasons. */
  labelsRead: LabelCounts;
  labelsKept: LabelCounts;
  /** The first few problem cells per reason, for humans. */
  examples: DropExample[];
  elapsedMs: number;
}

/** CSV header (as the schema spells it) of each column, for messages. */
export function csvHeaderOf(column: LpdColumn): string {
  if (column === "label") return LABEL_CSV_HEADER;
  if (column === "(extra cells)") return "cells beyond the last header column";
  const spec = FEATURES.find((f) => f.name === column);
  return spec === undefined ? column : spec.csvHeader;
}

const REASON_WORDS: Record<DropReason, string> = {
  missing: "a missing cell",
  unparseable: "an unparseable cell",
  outOfRange: "a value outside the schema range",
  badLabel: "a label other than 1 or 2",
};

const int = (n: number): string => n.toLocaleString("en-US");

function formatCells(cells: Partial<Record<LpdColumn, number>>): string {
  const parts = Object.entries(cells)
    .filter((entry) => entry[1] > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([column, n]) => `${column} ${int(n)}`);
  return parts.length === 0 ? "" : ` (cells: ${parts.join(", ")})`;
}

function rangeHint(example: DropExample): string {
  if (example.reason === "badLabel") return ": 1 = liver disease, 2 = none";
  if (example.reason !== "outOfRange" && example.reason !== "unparseable") return "";
  if (example.column === "gender") return ": Male or Female";
  const spec = FEATURES.find((f) => f.name === example.column);
  return spec?.kind === "numeric" ? `: valid range ${describeRange(spec)}` : "";
}

/** The report as a few lines for a person (the train CLI prints it). */
export function formatLoadReport(report: LoadReport): string {
  const lines = [
    `Loaded ${report.path} (${int(report.bytes)} bytes) in ${report.elapsedMs.toFixed(1)} ms`,
    `  rows: ${int(report.rowsRead)} read, ${int(report.rowsKept)} kept, ${int(report.rowsDropped)} dropped` +
      (report.blankLines > 0 ? `; ${int(report.blankLines)} blank lines skipped` : ""),
  ];
  for (const reason of DROP_REASONS) {
    const counts = report.dropped[reason];
    const cells = formatCells(counts.cellsByColumn);
    if (counts.rows === 0 && cells === "") continue;
    lines.push(`  dropped for ${REASON_WORDS[reason]}: ${int(counts.rows)} rows${cells}`);
  }
  lines.push(
    `  exact duplicate rows: ${int(report.exactDuplicateRows)} (kept; ${int(report.uniqueKeptRows)} distinct rows among the kept ones)`,
    `  labels read: liver disease ${int(report.labelsRead.liverDisease)}, none ${int(report.labelsRead.noLiverDisease)}; ` +
      `kept: liver disease ${int(report.labelsKept.liverDisease)}, none ${int(report.labelsKept.noLiverDisease)}`,
  );
  if (report.examples.length > 0) {
    lines.push("  first problems:");
    for (const ex of report.examples) {
      const value = ex.reason === "missing" ? "empty" : JSON.stringify(ex.value);
      lines.push(
        `    line ${ex.line}, ${ex.column} ("${csvHeaderOf(ex.column)}"): ${value} (${REASON_WORDS[ex.reason]}${rangeHint(ex)})`,
      );
    }
  }
  return lines.join("\n");
}
