import { readFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadLpdCsv } from "./lpd-csv-loader.js";
import { DEFAULT_SYNTHETIC_PARAMS, generateSyntheticDataset } from "./synthetic-dataset.js";
import {
  choleskyFactor,
  fitSyntheticParams,
  parseSyntheticParams,
  SYNTHETIC_NUMERIC_FEATURES,
  type SyntheticParams,
} from "./synthetic-params.js";
import { REAL_CSV_PATH, haveRealCsv } from "../testing/real-dataset.js";

const PARAMS_JSON = fileURLToPath(new URL("../../../data/synthetic-params.json", import.meta.url));

const provenance = {
  file: "test.csv",
  sha256: "0".repeat(64),
  bytes: 1,
  rowsRead: 1,
  completeRows: 1,
  fittedAt: "2025-01-01T00:00:00.000Z",
};

function edited(change: (doc: SyntheticParams) => void): unknown {
  const doc = structuredClone(DEFAULT_SYNTHETIC_PARAMS);
  change(doc);
  return doc;
}

describe("choleskyFactor", () => {
  it("factors a symmetric positive definite matrix", () => {
    const a = Float64Array.from([4, 2, 0.4, 2, 10, 1, 0.4, 1, 3]);
    const l = choleskyFactor(a, 3);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let sum = 0;
        for (let k = 0; k <= Math.min(i, j); k++) sum += (l[i]?.[k] ?? 0) * (l[j]?.[k] ?? 0);
        expect(sum).toBeCloseTo(a[i * 3 + j] ?? Number.NaN, 12);
      }
    }
    expect(l.map((row) => row.length)).toEqual([1, 2, 3]);
  });

  it("refuses a singular matrix, naming the feature", () => {
    expect(() => choleskyFactor(Float64Array.from([1, 1, 1, 1]), 2)).toThrow(
      /not positive definite at total_bilirubin/,
    );
  });
});

describe("fitSyntheticParams", () => {
  it("recovers the parameters it generated from (within sampling, rounding and clamping error)", () => {
    const fitted = fitSyntheticParams(generateSyntheticDataset(200_000, 11), provenance);
    const truth = DEFAULT_SYNTHETIC_PARAMS;
    expect(fitted.classes.liverDisease.prior).toBeCloseTo(truth.classes.liverDisease.prior, 1);
    for (const cls of ["liverDisease", "noLiverDisease"] as const) {
      expect(fitted.classes[cls].maleShare).toBeCloseTo(truth.classes[cls].maleShare, 1);
      fitted.classes[cls].mean.forEach((m, j) => {
        const expected = truth.classes[cls].mean[j] ?? Number.NaN;
        const sd = truth.classes[cls].cholesky[j]?.reduce((s, v) => s + v * v, 0) ?? Number.NaN;
        expect(Math.abs(m - expected), `${cls} mean of feature ${j}`).toBeLessThan(
          0.1 * Math.sqrt(sd) + 0.02,
        );
      });
    }
    expect(fitted.features.map((f) => f.decimals)).toEqual(truth.features.map((f) => f.decimals));
    expect(fitted.fittedOn.uniqueCompleteRows).toBeLessThanOrEqual(200_000);
  });

  it.skipIf(!haveRealCsv)(
    "reproduces the committed data/synthetic-params.json from the real file",
    async () => {
      const { dataset, report } = await loadLpdCsv(REAL_CSV_PATH);
      const bytes = await readFile(REAL_CSV_PATH);
      const committed = parseSyntheticParams(JSON.parse(await readFile(PARAMS_JSON, "utf8")));
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      expect(committed.fittedOn.sha256).toBe(sha256);
      const refit = fitSyntheticParams(dataset, {
        file: committed.fittedOn.file,
        sha256,
        bytes: bytes.length,
        rowsRead: report.rowsRead,
        completeRows: report.rowsKept,
        fittedAt: committed.fittedOn.fittedAt,
      });
      expect(refit).toEqual(committed);
      expect(committed.fittedOn).toMatchObject({
        rowsRead: 30_691,
        completeRows: 27_158,
        uniqueCompleteRows: 16_389,
      });
    },
  );
});

describe("parseSyntheticParams", () => {
  it("accepts the committed parameters", () => {
    expect(DEFAULT_SYNTHETIC_PARAMS.features.map((f) => f.name)).toEqual(
      SYNTHETIC_NUMERIC_FEATURES.map((f) => f.name),
    );
    expect(parseSyntheticParams(structuredClone(DEFAULT_SYNTHETIC_PARAMS))).toEqual(DEFAULT_SYNTHETIC_PARAMS);
  });

  it.each([
    ["not an object", [], /the document must be a JSON object/],
    ["another format", edited((d) => Object.assign(d, { format: "v0" })), /format is "v0"/],
    [
      "features out of schema order",
      edited((d) => d.features.reverse()),
      /features\[0\]\.name is "albumin_globulin_ratio"; the schema has "age"/,
    ],
    [
      "a space the schema does not imply",
      edited((d) => Object.assign(d.features[1] ?? {}, { space: "raw" })),
      /features\[1\]\.space is "raw"; the schema implies "log1p"/,
    ],
    [
      "a Cholesky diagonal that is not positive",
      edited((d) => d.classes.liverDisease.cholesky[2]?.splice(2, 1, 0)),
      /classes\.liverDisease\.cholesky\[2\]\[2\] must be positive/,
    ],
    [
      "a mean of the wrong length",
      edited((d) => d.classes.noLiverDisease.mean.pop()),
      /classes\.noLiverDisease\.mean must be an array of 9 numbers/,
    ],
    [
      "priors that do not sum to 1",
      edited((d) => (d.classes.liverDisease.prior = 0.9)),
      /classes\.\*\.prior must sum to 1/,
    ],
    [
      "a share above 1",
      edited((d) => (d.classes.noLiverDisease.maleShare = 1.5)),
      /maleShare is 1\.5; must be from 0 to 1/,
    ],
  ])("rejects %s", (_, doc, message) => {
    expect(() => parseSyntheticParams(doc)).toThrow(message);
    expect(() => parseSyntheticParams(doc)).toThrow(/Refit with "npm run fit-synthetic"/);
  });
});
