import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadLpdCsv } from "../shared/data/lpd-csv-loader.js";
import { FEATURE_COUNT } from "../shared/features/feature-schema.js";
import { exportFeedbackCsv, feedbackCsvHeader } from "./export-feedback.js";
import { STORE_FILE_NAME } from "./retrain-config.js";
import { FeedbackStore, type NewFeedback } from "./store/feedback-store.js";
import { openSqliteStore } from "./store/sqlite-store.js";
import { newFeedback, tempDir } from "./testing/retrain-fixtures.js";

const run = promisify(execFile);

/** A stored feedback with `verdict` and `label`, issued a second before it arrived. */
function feedback(verdict: 1 | 2 | 3, label: 0 | 1 | null, receivedAtMs: number): NewFeedback {
  return newFeedback({ verdict, label, probability: 0.7, issuedAtMs: receivedAtMs - 1000, receivedAtMs });
}

describe("export-feedback", () => {
  let tmp: ReturnType<typeof tempDir>;
  let storeFile: string;
  let rows: NewFeedback[];

  beforeEach(() => {
    tmp = tempDir();
    storeFile = path.join(tmp.dir, STORE_FILE_NAME);
    rows = [
      feedback(1, 1, Date.UTC(2025, 0, 2, 3, 4, 5)),
      feedback(3, null, Date.UTC(2025, 0, 2, 3, 4, 6)),
      feedback(2, 0, Date.UTC(2025, 0, 2, 3, 4, 7)),
    ];
    const db = openSqliteStore(storeFile);
    new FeedbackStore(db).insertMany(rows);
    db.close();
  });
  afterEach(() => tmp.remove());

  it("writes labelled feedback in the LPD layout with a timestamp, readable by the LPD loader", async () => {
    const outFile = path.join(tmp.dir, "feedback_data.csv");
    expect(exportFeedbackCsv({ storeFile, outFile })).toEqual({
      outFile,
      rows: 2,
      skippedUnknown: 1,
      skippedHeldBack: 0,
    });
    const lines = readFileSync(outFile, "utf8").split("\r\n");
    expect(lines[0]).toBe(feedbackCsvHeader());
    expect(lines[0]).toMatch(/^Age of the patient,Gender of the patient,.*,Result,timestamp$/);
    expect(lines[1]).toMatch(/,1,2025-01-02T03:04:05\.000Z$/);
    expect(lines[2]).toMatch(/,2,2025-01-02T03:04:07\.000Z$/);
    const { dataset } = await loadLpdCsv(outFile);
    expect(dataset.rows).toBe(2);
    expect(Array.from(dataset.labels)).toEqual([1, 0]);
    expect(Array.from(dataset.features.subarray(FEATURE_COUNT))).toEqual(Array.from(rows[2]?.features ?? []));
  });

  it("adds don't-know feedback with an empty Result when asked", () => {
    const outFile = path.join(tmp.dir, "all.csv");
    expect(exportFeedbackCsv({ storeFile, outFile, includeUnknown: true }).rows).toBe(3);
    expect(readFileSync(outFile, "utf8").split("\r\n")[2]).toMatch(/,,2025-01-02T03:04:06\.000Z$/);
  });

  it("leaves out quarantined and excluded rows (they do not train) unless asked", () => {
    const db = openSqliteStore(storeFile);
    new FeedbackStore(db).insertMany([
      newFeedback({ state: "quarantined", stateReason: "implausible", receivedAtMs: Date.UTC(2025, 0, 3) }),
    ]);
    db.prepare("UPDATE feedback SET state = 'excluded' WHERE seq = 1").run();
    db.close();
    const outFile = path.join(tmp.dir, "trained.csv");
    expect(exportFeedbackCsv({ storeFile, outFile })).toMatchObject({ rows: 1, skippedHeldBack: 2 });
    expect(readFileSync(outFile, "utf8").split("\r\n")[1]).toMatch(/,2,2025-01-02T03:04:07\.000Z$/);
    expect(exportFeedbackCsv({ storeFile, outFile, includeHeldBack: true })).toMatchObject({
      rows: 3,
      skippedHeldBack: 0,
    });
  });

  it("runs as a command reading DATA_PATH, and names the folder when there is no store", async () => {
    const script = fileURLToPath(new URL("./export-feedback.ts", import.meta.url));
    const { stdout } = await run(process.execPath, ["--import", "tsx", script], {
      env: { ...process.env, DATA_PATH: tmp.dir },
    });
    expect(stdout).toMatch(/wrote 2 feedback row\(s\) to .*feedback_data\.csv \(1 "don't know" left out/);
    expect(readFileSync(path.join(tmp.dir, "feedback_data.csv"), "utf8").split("\r\n")).toHaveLength(4);
    const missing = await run(process.execPath, ["--import", "tsx", script], {
      env: { ...process.env, DATA_PATH: path.join(tmp.dir, "nowhere") },
    }).catch((error: unknown) => error as { code: number; stderr: string });
    expect(missing).toMatchObject({ code: 1 });
    expect((missing as { stderr: string }).stderr).toMatch(/no RetrainService store at .*nowhere/);
  });
});
