import { mkdir, mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { FEATURE_COUNT, FEATURES, GENDER_CODE, LABEL_CSV_HEADER } from "../features/feature-schema.js";
import type { Dataset } from "./dataset.js";
import { DatasetFormatError } from "./dataset-format-error.js";
import { formatLoadReport } from "./load-report.js";
import { loadLpdCsv, normaliseHeader } from "./lpd-csv-loader.js";
import { generateSyntheticDataset } from "./synthetic-dataset.js";
import { REAL_CSV_PATH, haveRealCsv } from "../testing/real-dataset.js";

/** The header row exactly as the real file has it (U+00A0 before Alkphos, Sgpt and ALB). */
const LPD_HEADER =
  "Age of the patient,Gender of the patient,Total Bilirubin,Direct Bilirubin,\u00a0Alkphos Alkaline Phosphotase," +
  "\u00a0Sgpt Alamine Aminotransferase,Sgot Aspartate Aminotransferase,Total Protiens,\u00a0ALB Albumin," +
  "A/G Ratio Albumin and Globulin Ratio,Result";

const ROW_1 = "65,Female,0.7,0.1,187,16,18,6.8,3.3,0.9,1";
const ROW_2 = "62,Male,10.9,5.5,699,64,100,7.5,3.2,0.74,1";
const ROW_3 = "17,Male,0.9,0.3,202,22,19,7.4,4.1,1.2,2";
/** ROW_1 as the loader codes it: schema order, the model's gender code. */
const ROW_1_FEATURES = [65, GENDER_CODE.female, 0.7, 0.1, 187, 16, 18, 6.8, 3.3, 0.9];

let dir: string;
let fileNo = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "lpd-loader-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `content` (latin-1 for strings) to a fresh file in the temp dir. */
async function csvFile(content: string | Buffer, name = `case-${++fileNo}.csv`): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof content === "string" ? Buffer.from(content, "latin1") : content);
  return path;
}

/** An LPD-style CSV of `lines` (CRLF by default), header included. */
function lpd(lines: string[], eol = "\r\n", header = LPD_HEADER): string {
  return [header, ...lines].join(eol) + eol;
}

async function loadError(path: string): Promise<DatasetFormatError> {
  const error: unknown = await loadLpdCsv(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DatasetFormatError);
  return error as DatasetFormatError;
}

/** Writes a dataset as the real file would look (CRLF, NBSP headers, Male/Female, CSV labels 1/2). */
function toLpdCsv(dataset: Dataset): string {
  const parts = [LPD_HEADER];
  for (let row = 0; row < dataset.rows; row++) {
    const cells = FEATURES.map((spec, i) => {
      const v = dataset.features[row * FEATURE_COUNT + i] ?? Number.NaN;
      return spec.kind === "gender" ? (v === GENDER_CODE.male ? "Male" : "Female") : String(v);
    });
    cells.push(dataset.labels[row] === 1 ? "1" : "2");
    parts.push(cells.join(","));
  }
  return parts.join("\r\n") + "\r\n";
}

function bytesOf(array: Float64Array | Uint8Array): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

describe.skipIf(!haveRealCsv)("loadLpdCsv on the real LPD file", () => {
  it("reads every row and reproduces the measured facts", async () => {
    const { dataset, report } = await loadLpdCsv(REAL_CSV_PATH);
    expect(report.bytes).toBe(1_236_657);
    expect(report.rowsRead).toBe(30_691);
    expect(report.dropped.missing.rows).toBe(3_533);
    const missingCells = Object.values(report.dropped.missing.cellsByColumn).reduce((a, b) => a + b, 0);
    expect(missingCells).toBe(5_425);
    expect(report.dropped.missing.cellsByColumn.gender).toBe(902);
    expect(report.rowsKept).toBe(30_691 - 3_533);
    expect(report.rowsDropped).toBe(3_533);
    expect(
      report.dropped.unparseable.rows + report.dropped.outOfRange.rows + report.dropped.badLabel.rows,
    ).toBe(0);
    expect(report.labelsRead).toEqual({ liverDisease: 21_917, noLiverDisease: 8_774 });
    expect(report.labelsKept.liverDisease + report.labelsKept.noLiverDisease).toBe(report.rowsKept);
    expect(report.exactDuplicateRows).toBe(11_323);
    expect(report.uniqueKeptRows).toBe(16_389);
    expect(report.blankLines).toBe(0);
    expect(report.path).toBe(REAL_CSV_PATH);

    expect(dataset.source).toBe("real");
    expect(dataset.rows).toBe(report.rowsKept);
    expect(dataset.features.length).toBe(dataset.rows * FEATURE_COUNT);
    // The first data line is ROW_1.
    expect(Array.from(dataset.features.subarray(0, FEATURE_COUNT))).toEqual(ROW_1_FEATURES);
    expect(dataset.labels[0]).toBe(1);
    FEATURES.forEach((spec, i) => {
      let min = Infinity;
      let max = -Infinity;
      for (let row = 0; row < dataset.rows; row++) {
        const v = dataset.features[row * FEATURE_COUNT + i] ?? Number.NaN;
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      if (spec.kind === "numeric") {
        expect(min, spec.name).toBeGreaterThanOrEqual(spec.min);
        expect(max, spec.name).toBeLessThanOrEqual(spec.max);
      } else {
        expect([min, max]).toEqual([GENDER_CODE.female, GENDER_CODE.male]);
      }
    });
    const text = formatLoadReport(report);
    expect(text).toContain("30,691 read, 27,158 kept, 3,533 dropped");
    expect(text).toContain("gender 902");
    expect(text).toContain("exact duplicate rows: 11,323");
  });
});

describe("loadLpdCsv on well-formed variants", () => {
  it("accepts LF line ends and a path with spaces and parentheses", async () => {
    await mkdir(join(dir, "my data (copy)"), { recursive: true });
    const path = await csvFile(
      lpd([ROW_1, ROW_2, ROW_3], "\n"),
      "my data (copy)/Liver Patient Dataset (LPD)_train.csv",
    );
    const { dataset, report } = await loadLpdCsv(path);
    expect(report.rowsRead).toBe(3);
    expect(report.rowsKept).toBe(3);
    expect(Array.from(dataset.labels)).toEqual([1, 1, 0]);
    expect(Array.from(dataset.features.subarray(FEATURE_COUNT, 2 * FEATURE_COUNT))).toEqual([
      62, 1, 10.9, 5.5, 699, 64, 100, 7.5, 3.2, 0.74,
    ]);
  });

  it("finds columns in any order and case, ignores extra columns, and reads quoted cells", async () => {
    const header =
      '"RESULT",ID,  a/g ratio albumin and globulin ratio ,alb albumin,total protiens,' +
      "sgot aspartate aminotransferase,sgpt alamine aminotransferase,alkphos alkaline phosphotase," +
      "direct bilirubin,total bilirubin,gender of the patient,age of the patient";
    const path = await csvFile(
      lpd(
        ['2,17,0.9,3.3,6.8,18,16,187,0.1,0.7,"FEMALE",65', '1,"x,y",1,3,7,20,20,200,0.2,1.1," male ",40'],
        "\r\n",
        header,
      ),
    );
    const { dataset, report } = await loadLpdCsv(path);
    expect(report.rowsKept).toBe(2);
    // The first row holds ROW_1's values in the shuffled column order.
    expect(Array.from(dataset.features.subarray(0, FEATURE_COUNT))).toEqual(ROW_1_FEATURES);
    expect(dataset.features[FEATURE_COUNT + 1]).toBe(GENDER_CODE.male);
    expect(Array.from(dataset.labels)).toEqual([0, 1]);
  });

  it("reads UTF-8 with a BOM (the no-break spaces as two bytes)", async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(lpd([ROW_1]), "utf8")]);
    const { report } = await loadLpdCsv(await csvFile(bytes));
    expect(report.rowsKept).toBe(1);
  });

  it("reads a UTF-8 BOM before latin-1 text (the published file, its no-break spaces one byte each)", async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(lpd([ROW_1]), "latin1")]);
    const { report } = await loadLpdCsv(await csvFile(bytes));
    expect([report.rowsRead, report.rowsKept]).toEqual([1, 1]);
  });

  it("reads a UTF-8 header (no-break spaces as two bytes) over a data row with a latin-1 byte", async () => {
    const header = Buffer.from(`${LPD_HEADER},Note\r\n`, "utf8");
    const { report } = await loadLpdCsv(
      await csvFile(Buffer.concat([header, Buffer.from(`${ROW_1},caf\u00e9\r\n`, "latin1")])),
    );
    expect([report.rowsRead, report.rowsKept]).toEqual([1, 1]);
  });

  it("round-trips a synthetic dataset across many read chunks, keeping duplicates", async () => {
    const original = generateSyntheticDataset(60_000, 7);
    const text = toLpdCsv(original);
    expect(text.length).toBeGreaterThan(2 * (1 << 20)); // spans several 1 MiB reads
    const { dataset, report } = await loadLpdCsv(await csvFile(text));
    expect(report.rowsRead).toBe(60_000);
    expect(report.rowsKept).toBe(60_000);
    expect(dataset.rows).toBe(60_000);
    // Buffer.equals: a deep toEqual over millions of bytes takes seconds.
    expect(bytesOf(dataset.features).equals(bytesOf(original.features))).toBe(true);
    expect(bytesOf(dataset.labels).equals(bytesOf(original.labels))).toBe(true);
    expect(report.exactDuplicateRows).toBe(report.rowsKept - report.uniqueKeptRows);
  });

  it("counts exact duplicates among kept and among dropped rows, and skips blank lines", async () => {
    const broken = "40,Male,,0.1,187,16,18,6.8,3.3,0.9,1";
    const path = await csvFile(lpd([ROW_1, ROW_1, "", broken, ROW_2, broken, ROW_1]));
    const { dataset, report } = await loadLpdCsv(path);
    expect(report.rowsRead).toBe(6);
    expect(report.blankLines).toBe(1);
    expect(report.rowsKept).toBe(4);
    expect(dataset.rows).toBe(4); // duplicates are kept
    expect(report.exactDuplicateRows).toBe(3);
    expect(report.uniqueKeptRows).toBe(2);
  });

  it("reads line ends as they come: LF after CRLF, and CR-only lines never outgrow the dataset", async () => {
    const mixed = await loadLpdCsv(
      await csvFile(`${LPD_HEADER}\r\n${ROW_1}\r\n${ROW_2}\n${ROW_3}\n${ROW_1}\r\n`),
    );
    expect([mixed.report.rowsRead, mixed.report.rowsKept]).toEqual([4, 4]);
    expect(Array.from(mixed.dataset.labels)).toEqual([1, 1, 0, 1]);
    // CR alone ends no line (the header check rejects CR-only files), so these rows are one bad row.
    const { dataset, report } = await loadLpdCsv(
      await csvFile(`${LPD_HEADER}\r\n${ROW_1}\r\n${ROW_2}\r${ROW_3}\r`),
    );
    expect([report.rowsRead, report.rowsKept, report.blankLines]).toEqual([2, 1, 0]);
    expect([dataset.rows, dataset.labels.length, dataset.features.length]).toEqual([1, 1, FEATURE_COUNT]);
  });

  it("sizes its arrays by the file's bytes, not its lines (2 million blank lines are 2 MB)", async () => {
    const path = await csvFile(lpd([ROW_1, ...Array<string>(2_000_000).fill("")], "\n"));
    const before = process.memoryUsage().arrayBuffers;
    const { report } = await loadLpdCsv(path);
    expect(report.blankLines).toBe(2_000_000);
    // 80 bytes of features per line would be 160 MB.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(20 * report.bytes);
  });

  it("counts a dropped row repeated on the last line, or with other line ends or padding, as a duplicate", async () => {
    const broken = "40,Male,,0.1,187,16,18,6.8,3.3,0.9,1";
    const text = `${LPD_HEADER}\r\n${ROW_1}\r\n${broken}\r\n${broken} \n ${broken}\r\n${broken}`;
    const { report } = await loadLpdCsv(await csvFile(text));
    expect([report.rowsRead, report.rowsDropped, report.exactDuplicateRows]).toEqual([5, 4, 3]);
  });

  it("reads a header whose first name, quoted, spans two lines", async () => {
    const text = lpd(
      [`7,${ROW_1}`, `8,${ROW_2.replace("62", "x")}`],
      "\r\n",
      `"Patient\r\nID",${LPD_HEADER}`,
    );
    const { report } = await loadLpdCsv(await csvFile(text));
    expect([report.rowsRead, report.rowsKept]).toEqual([2, 1]);
    expect(report.examples).toEqual([{ reason: "unparseable", line: 4, column: "age", value: "x" }]);
  });

  it("reads a comma file with a header name holding more semicolons than the header has commas", async () => {
    const header = `${LPD_HEADER},"Notes; a; b; c; d; e; f; g; h; i; j; k; l"`;
    const { report } = await loadLpdCsv(await csvFile(lpd([`${ROW_1},x`], "\r\n", header)));
    expect(report.rowsKept).toBe(1);
  });

  it("never splits a quote-free file into all its lines at once (V8 aborts the process past 2^27 lines)", async () => {
    // 2^27 blank lines (134 MB) would show it for real; watching split shows it in a small file.
    const text = lpd([ROW_1, ...Array<string>(1_000).fill("")], "\n");
    const path = await csvFile(text);
    const split = vi.spyOn(String.prototype, "split");
    try {
      expect((await loadLpdCsv(path)).report.blankLines).toBe(1_000);
      expect(split.mock.contexts.map((s) => String(s).length).filter((n) => n > 1_000)).toEqual([]);
    } finally {
      split.mockRestore();
    }
  });

  it("stops when aborted", async () => {
    const controller = new AbortController();
    controller.abort(new Error("shutting down"));
    await expect(loadLpdCsv(await csvFile(lpd([ROW_1])), { signal: controller.signal })).rejects.toThrow(
      "shutting down",
    );
  });
});

describe("loadLpdCsv drops bad rows and counts them by reason and column", () => {
  it("drops rows with missing cells, including short rows", async () => {
    const path = await csvFile(
      lpd([ROW_1, "65,,0.7,0.1,187,16,18,6.8,3.3,0.9,1", "65,Male,0.7,0.1,187", ROW_2]),
    );
    const { dataset, report } = await loadLpdCsv(path);
    expect(report.rowsKept).toBe(2);
    expect(dataset.rows).toBe(2);
    expect(report.dropped.missing.rows).toBe(2);
    expect(report.dropped.missing.cellsByColumn).toEqual({
      gender: 1,
      alanine_aminotransferase: 1,
      aspartate_aminotransferase: 1,
      total_proteins: 1,
      albumin: 1,
      albumin_globulin_ratio: 1,
      label: 1,
    });
    expect(report.examples[0]).toEqual({ reason: "missing", line: 3, column: "gender", value: "" });
  });

  it("drops unparseable cells (numbers and gender) and names the column", async () => {
    const path = await csvFile(
      lpd([
        ROW_1,
        "65,Female,abc,0.1,187,16,18,6.8,3.3,0.9,1",
        "65,Other,0.7,0.1,187,16,18,6.8,3.3,0.9,1",
        "65,Female,0.7,0x1,Infinity,16,18,6.8,3.3,0.9,1",
      ]),
    );
    const { report } = await loadLpdCsv(path);
    expect(report.rowsKept).toBe(1);
    expect(report.dropped.unparseable.rows).toBe(3);
    expect(report.dropped.unparseable.cellsByColumn).toEqual({
      total_bilirubin: 1,
      gender: 1,
      direct_bilirubin: 1,
      alkaline_phosphatase: 1,
    });
    expect(formatLoadReport(report)).toContain('line 3, total_bilirubin ("Total Bilirubin"): "abc"');
  });

  it("refuses a number a million digits long with a letter at its end, at once", async () => {
    // Digits the pattern could split two ways made each try quadratic: minutes for this cell.
    const cell = `${"1".repeat(1_000_000)}x`;
    const { report } = await loadLpdCsv(
      await csvFile(lpd([ROW_1, `${cell},Male,0.7,0.1,187,16,18,6.8,3.3,0.9,1`])),
    );
    expect(report.dropped.unparseable).toEqual({ rows: 1, cellsByColumn: { age: 1 } });
  });

  it("drops values outside the schema range and says the range", async () => {
    const path = await csvFile(
      lpd([ROW_1, "130,Male,0.7,0.1,187,16,18,6.8,3.3,0.9,1", "30,Male,-1,0.1,187,16,18,6.8,3.3,0.9,2"]),
    );
    const { report } = await loadLpdCsv(path);
    expect(report.rowsKept).toBe(1);
    expect(report.dropped.outOfRange.rows).toBe(2);
    expect(report.dropped.outOfRange.cellsByColumn).toEqual({ age: 1, total_bilirubin: 1 });
    expect(report.labelsRead).toEqual({ liverDisease: 2, noLiverDisease: 1 });
    expect(formatLoadReport(report)).toContain('age ("Age of the patient"): "130"');
    expect(formatLoadReport(report)).toContain("valid range 0 to 120 years");
  });

  it("drops labels other than 1 and 2", async () => {
    const path = await csvFile(
      lpd([
        ROW_1,
        "65,Female,0.7,0.1,187,16,18,6.8,3.3,0.9,0",
        "65,Female,0.7,0.1,187,16,18,6.8,3.3,0.9,yes",
        ROW_3,
      ]),
    );
    const { dataset, report } = await loadLpdCsv(path);
    expect(report.rowsKept).toBe(2);
    expect(Array.from(dataset.labels)).toEqual([1, 0]);
    expect(report.dropped.badLabel).toEqual({ rows: 2, cellsByColumn: { label: 2 } });
  });

  it("counts a row once, under its first reason, and cells with extra content", async () => {
    const path = await csvFile(
      lpd([ROW_1, "200,,0.7,0.1,187,16,18,6.8,3.3,0.9,7", `${ROW_2},surprise`, `${ROW_3},`]),
    );
    const { report } = await loadLpdCsv(path);
    expect(report.rowsKept).toBe(2); // a trailing empty cell is harmless
    expect(report.dropped.missing.rows).toBe(1);
    expect(report.dropped.outOfRange).toEqual({ rows: 0, cellsByColumn: { age: 1 } });
    expect(report.dropped.badLabel).toEqual({ rows: 0, cellsByColumn: { label: 1 } });
    expect(report.dropped.unparseable).toEqual({ rows: 1, cellsByColumn: { "(extra cells)": 1 } });
    const dropped = Object.values(report.dropped).reduce((n, d) => n + d.rows, 0);
    expect(dropped).toBe(report.rowsRead - report.rowsKept);
  });

  it("reads short rows under a header of many ignored columns without visiting every column per row", async () => {
    // Visiting all 500,000 columns for each of 500,000 rows would outlast the test timeout.
    const n = 500_000;
    const path = await csvFile(lpd([ROW_1, ...Array<string>(n).fill("1")], "\n", LPD_HEADER + ",".repeat(n)));
    const { report } = await loadLpdCsv(path);
    expect([report.rowsRead, report.rowsKept, report.dropped.missing.rows]).toEqual([n + 1, 1, n]);
    expect(report.dropped.missing.cellsByColumn.label).toBe(n);
  });

  it("keeps the start of a huge problem cell in its example, not all of it", async () => {
    const huge = "9".repeat(1_000_000);
    const error = await loadError(await csvFile(lpd([`${huge},Male,0.7,0.1,187,16,18,6.8,3.3,0.9,1`])));
    expect(error.message).toContain(`age ("Age of the patient"): "${"9".repeat(100)}`);
    expect(error.message.length).toBeLessThan(5_000);
  });

  it("gives file lines after quoted cells that span lines or hold commas and doubled quotes", async () => {
    const header = `${LPD_HEADER},"Note, ""free""\r\ntext"`;
    const rows = [
      `${ROW_1},"a\nb\r\nc"`,
      `${ROW_2},"x, ""y"""`,
      "",
      "65,Female,0.7,0.1,187,16,18,6.8,3.3,0.9,9,z",
    ];
    const text = lpd(rows, "\r\n", header);
    const { report } = await loadLpdCsv(await csvFile(text));
    const badLine = text.slice(0, text.indexOf(rows[3] ?? "")).split("\n").length;
    expect(badLine).toBe(8);
    expect(report.examples).toEqual([{ reason: "badLabel", line: badLine, column: "label", value: "9" }]);
    expect([report.rowsRead, report.rowsKept, report.blankLines]).toEqual([3, 2, 1]);
  });

  it("fails with the report when no row is usable", async () => {
    const error = await loadError(await csvFile(lpd(["65,Female,0.7,0.1,187,16,18,6.8,3.3,0.9,"])));
    expect(error.message).toMatch(/no usable row: all 1 rows were dropped/);
    expect(error.message).toContain("label 1");
  });
});

describe("loadLpdCsv rejects files it cannot use, saying what to do", () => {
  it("file not found", async () => {
    const error = await loadError(join(dir, "nope (1).csv"));
    expect(error.message).toContain("CSV file not found");
    expect(error.message).toContain("nope (1).csv");
  });

  it("a directory", async () => {
    expect((await loadError(dir)).message).toContain("is a directory");
  });

  it("empty file", async () => {
    expect((await loadError(await csvFile(""))).message).toMatch(/is empty \(0 bytes\)/);
  });

  it("no header row (a BOM alone, or a blank first line)", async () => {
    for (const content of [Buffer.from([0xef, 0xbb, 0xbf]), `\r\n${ROW_1}\r\n`]) {
      expect((await loadError(await csvFile(content))).message).toContain("has no header row");
    }
  });

  it("header only", async () => {
    expect((await loadError(await csvFile(LPD_HEADER + "\r\n"))).message).toContain("no data rows");
  });

  it("a file too large to hold as one string (sparse: NUL bytes after 84 kB of rows, past the binary probe)", async () => {
    for (const size of [600e6, 2.2e9]) {
      const path = await csvFile(lpd(Array<string>(2_000).fill(ROW_1)));
      await truncate(path, size);
      expect((await loadError(path)).message).toContain("is over 512 MiB, more than the loader reads");
    }
  });

  it("binary file", async () => {
    const bytes = Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x06, 0x00, 0x08, 0x00]);
    const error = await loadError(await csvFile(bytes));
    expect(error.message).toContain("binary file (NUL byte at offset 5)");
  });

  it("UTF-16 text, little- or big-endian", async () => {
    const littleEndian = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(lpd([ROW_1]), "utf16le")]);
    const bigEndian = Buffer.from(littleEndian).swap16();
    for (const bytes of [littleEndian, bigEndian]) {
      expect((await loadError(await csvFile(bytes))).message).toContain("UTF-16");
    }
  });

  it("semicolon-delimited file", async () => {
    const text = lpd([ROW_1.replaceAll(",", ";")]).replaceAll(",", ";");
    const error = await loadError(await csvFile(text));
    expect(error.message).toContain("uses semicolon (;) as its delimiter");
    expect(error.message).toContain("a comma-separated file is expected");
  });

  it("tab-delimited file", async () => {
    const error = await loadError(await csvFile(lpd([ROW_1]).replaceAll(",", "\t")));
    expect(error.message).toContain("uses tab as its delimiter (10 in the header row, 0 commas)");
  });

  it("missing columns, naming each and listing the headers found", async () => {
    const header =
      "Age of the patient,Gender,Total Bilirubin,Direct Bilirubin,\u00a0Alkphos Alkaline Phosphotase," +
      "\u00a0Sgpt Alamine Aminotransferase,Sgot Aspartate Aminotransferase,Total Proteins,\u00a0ALB Albumin," +
      "A/G Ratio Albumin and Globulin Ratio,Outcome";
    const error = await loadError(await csvFile(lpd([ROW_1], "\r\n", header)));
    expect(error.message).toContain("lacks 3 required columns");
    expect(error.message).toContain('"Gender of the patient" (gender)');
    expect(error.message).toContain('"Total Protiens" (total_proteins)');
    expect(error.message).toContain(`"${LABEL_CSV_HEADER}" (label)`);
    expect(error.message).toContain('Headers found: "Age of the patient", "Gender", ');
    expect(error.message).toContain('"Outcome"');
  });

  it("missing columns under a header of a million others, naming the first few found", async () => {
    const error = await loadError(
      await csvFile(lpd([ROW_1], "\r\n", LPD_HEADER.replace(",Result", ",x".repeat(1e6)))),
    );
    expect(error.message).toContain(`"${LABEL_CSV_HEADER}" (label). Headers found: "Age of the patient", `);
    expect(error.message.length).toBeLessThan(5_000);
  });

  it("a column given twice", async () => {
    const error = await loadError(
      await csvFile(lpd([`${ROW_1},70`], "\r\n", `${LPD_HEADER},age of the patient`)),
    );
    expect(error.message).toContain('has the column "age of the patient" twice (columns 1 and 12)');
  });

  it("a quote that never closes, which would read every line after it as one cell", async () => {
    for (const bad of ['"65,Female,0.7', '65,"Fe"male,0.7']) {
      const error = await loadError(
        await csvFile(lpd([ROW_1, `${bad},0.1,187,16,18,6.8,3.3,0.9,1`, ROW_2, ROW_3])),
      );
      expect(error.message).toMatch(/ line 3: .*quote/);
    }
  });

  it("CR-only line ends", async () => {
    const error = await loadError(await csvFile(lpd([ROW_1, ROW_2], "\r")));
    expect(error.message).toContain("CR-only line ends");
  });
});

describe("normaliseHeader", () => {
  it("trims no-break spaces and BOMs, collapses inner white space and ignores case", () => {
    expect(normaliseHeader("\u00a0Sgpt  Alamine\tAminotransferase ")).toBe("sgpt alamine aminotransferase");
    expect(normaliseHeader("\ufeffAge of the patient")).toBe("age of the patient");
    // Invisible format characters a copy from a web page or a right-to-left editor leaves.
    expect(normaliseHeader("\u200bResult\u200e\u2060")).toBe("result");
  });
});
