import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatasetFormatError } from "./dataset-format-error.js";
import { LPD_CSV_RELATIVE_PATH, loadOriginalDataset } from "./original-dataset.js";
import { generateSyntheticDataset } from "./synthetic-dataset.js";

const CSV =
  "Age of the patient,Gender of the patient,Total Bilirubin,Direct Bilirubin,\u00a0Alkphos Alkaline Phosphotase," +
  "\u00a0Sgpt Alamine Aminotransferase,Sgot Aspartate Aminotransferase,Total Protiens,\u00a0ALB Albumin," +
  "A/G Ratio Albumin and Globulin Ratio,Result\r\n" +
  "65,Female,0.7,0.1,187,16,18,6.8,3.3,0.9,1\r\n" +
  "62,Male,10.9,5.5,699,64,100,7.5,3.2,0.74,1\r\n" +
  "17,Male,0.9,0.3,202,22,19,7.4,4.1,1.2,2\r\n" +
  "40,,0.9,0.3,202,22,19,7.4,4.1,1.2,2\r\n";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "original-dataset-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function dataPathWith(name: string, csv: string | undefined): Promise<string> {
  const dataPath = join(dir, name);
  await mkdir(join(dataPath, "raw"), { recursive: true });
  if (csv !== undefined) await writeFile(join(dataPath, LPD_CSV_RELATIVE_PATH), csv, "latin1");
  return dataPath;
}

describe("loadOriginalDataset", () => {
  it("falls back to the synthetic default, saying so, when DATA_PATH has no real file", async () => {
    const dataPath = await dataPathWith("empty data (none)", undefined);
    const original = await loadOriginalDataset({ dataPath });
    expect(original.source).toBe("synthetic");
    expect(original.dataset.source).toBe("synthetic");
    expect(original.dataset.rows).toBe(30_691);
    expect(original.report).toBeUndefined();
    expect(original.description).toContain(
      `synthetic default data (no real dataset at ${join(dataPath, LPD_CSV_RELATIVE_PATH)})`,
    );
    const expected = generateSyntheticDataset(30_691, 1);
    expect(Buffer.from(original.dataset.labels).equals(Buffer.from(expected.labels))).toBe(true);
  });

  it("honours the synthetic row count and seed", async () => {
    const original = await loadOriginalDataset({
      dataPath: join(dir, "absent"),
      syntheticRows: 500,
      seed: 9,
    });
    expect(original.dataset.rows).toBe(500);
    const expected = generateSyntheticDataset(500, 9);
    expect(Buffer.from(original.dataset.features.buffer).equals(Buffer.from(expected.features.buffer))).toBe(
      true,
    );
    expect(original.description).toContain("500 rows, seed 9");
  });

  it("loads the real file from <DATA_PATH>/raw/ when it is there", async () => {
    const dataPath = await dataPathWith("with real", CSV);
    const original = await loadOriginalDataset({ dataPath });
    expect(original.source).toBe("real");
    expect(original.dataset.rows).toBe(3);
    expect(original.report?.rowsRead).toBe(4);
    expect(original.description).toMatch(
      /^real data from .*Liver Patient Dataset \(LPD\)_train\.csv: 3 of 4 rows kept/,
    );
  });

  it("prefers TRAINING_CSV over DATA_PATH", async () => {
    const dataPath = await dataPathWith("ignored", undefined);
    const trainingCsv = join(dir, "elsewhere.csv");
    await writeFile(trainingCsv, CSV, "latin1");
    const original = await loadOriginalDataset({ dataPath, trainingCsv });
    expect(original.source).toBe("real");
    expect(original.report?.path).toBe(trainingCsv);
  });

  it("fails instead of falling back when TRAINING_CSV does not exist", async () => {
    const dataPath = await dataPathWith("also ignored", undefined);
    await expect(loadOriginalDataset({ dataPath, trainingCsv: join(dir, "typo.csv") })).rejects.toThrow(
      DatasetFormatError,
    );
  });

  it("fails instead of falling back when the real file under DATA_PATH is a link to nothing (a volume not mounted)", async () => {
    const dataPath = await dataPathWith("dangling", undefined);
    await symlink(join(dir, "unmounted", "lpd.csv"), join(dataPath, LPD_CSV_RELATIVE_PATH));
    await expect(loadOriginalDataset({ dataPath })).rejects.toThrow(/CSV file not found/);
  });

  it("fails instead of falling back when the real file under DATA_PATH is broken", async () => {
    const dataPath = await dataPathWith("broken", CSV.replaceAll(",", ";"));
    await expect(loadOriginalDataset({ dataPath })).rejects.toThrow(/semicolon/);
  });
});
