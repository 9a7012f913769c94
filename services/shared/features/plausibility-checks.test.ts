import { describe, expect, it } from "vitest";
import { loadLpdCsv } from "../data/lpd-csv-loader.js";
import { REAL_CSV_PATH, haveRealCsv } from "../testing/real-dataset.js";
import { FEATURE_COUNT, FEATURES } from "./feature-schema.js";
import { allowedAgRatio, checkPlausibility, hasImplausibleValues } from "./plausibility-checks.js";

/** A plausible adult: age, gender code, TB, DB, ALP, ALT, AST, TP, ALB, A/G. */
const PLAUSIBLE = [45, 1, 0.8, 0.2, 90, 25, 22, 7, 4, 1.33];

function patient(changes: Record<string, number>): Float64Array {
  const vector = Float64Array.from(PLAUSIBLE);
  for (const [name, value] of Object.entries(changes)) {
    const index = FEATURES.findIndex((spec) => spec.name === name);
    if (index < 0) throw new Error(name);
    vector[index] = value;
  }
  return vector;
}

describe("checkPlausibility", () => {
  it("finds nothing in a plausible patient", () => {
    expect(checkPlausibility(patient({}))).toEqual([]);
    expect(hasImplausibleValues(patient({}))).toBe(false);
  });

  it("warns when direct bilirubin exceeds total bilirubin, naming both with labels and units", () => {
    const warnings = checkPlausibility(patient({ direct_bilirubin: 5, total_bilirubin: 0.5 }));
    expect(warnings).toEqual([
      {
        fields: ["direct_bilirubin", "total_bilirubin"],
        message:
          "Direct bilirubin 5 mg/dL is higher than Total bilirubin 0.5 mg/dL, but direct bilirubin is part of the total: one of them is probably mis-entered.",
      },
    ]);
    // Equal is possible (all bilirubin conjugated, within rounding): no warning.
    expect(checkPlausibility(patient({ direct_bilirubin: 0.8 }))).toEqual([]);
  });

  it("warns when albumin exceeds total proteins, and then does not judge the A/G ratio", () => {
    const warnings = checkPlausibility(patient({ albumin: 9, total_proteins: 2 }));
    expect(warnings.map((w) => w.fields)).toEqual([["albumin", "total_proteins"]]);
    expect(warnings[0]?.message).toMatch(/^Albumin 9 g\/dL is higher than Total proteins 2 g\/dL/);
  });

  it("warns about an A/G ratio that albumin and total proteins cannot give, allowing rounding and assay error", () => {
    // 4 / (7 - 4) = 1.33; the assays' 8 % and rounding allow 3.63 / (7.61 - 3.63) - 0.05 to
    // 4.37 / (6.39 - 4.37) + 0.05, about 0.86 to 2.21.
    const range = allowedAgRatio(4, 7);
    expect(range.low).toBeCloseTo(3.63 / (7.61 - 3.63) - 0.05, 9);
    expect(range.high).toBeCloseTo(4.37 / (6.39 - 4.37) + 0.05, 9);
    expect(checkPlausibility(patient({ albumin_globulin_ratio: 1.5 }))).toEqual([]);
    expect(checkPlausibility(patient({ albumin_globulin_ratio: 1.1 }))).toEqual([]);
    const high = checkPlausibility(patient({ albumin_globulin_ratio: 2.9 }));
    expect(high.map((w) => w.fields)).toEqual([["albumin_globulin_ratio", "albumin", "total_proteins"]]);
    expect(high[0]?.message).toBe(
      "Albumin/globulin ratio 2.9 does not fit Albumin 4 g/dL and Total proteins 7 g/dL: albumin / (total proteins - albumin) is 1.33. One of the three is probably mis-entered.",
    );
    expect(checkPlausibility(patient({ albumin_globulin_ratio: 0.5 }))).toHaveLength(1);
  });

  it("reports every contradiction at once and agrees with hasImplausibleValues on edge values", () => {
    const both = patient({ direct_bilirubin: 50, total_bilirubin: 0, albumin: 10, total_proteins: 0 });
    expect(checkPlausibility(both).map((w) => w.fields[0])).toEqual(["direct_bilirubin", "albumin"]);
    const edges = [0, 0.05, 0.1, 1, 2.5, 10, 15];
    for (const albumin of edges) {
      for (const proteins of edges) {
        for (const ratio of [0, 0.3, 1, 3, 10]) {
          const vector = patient({ albumin, total_proteins: proteins, albumin_globulin_ratio: ratio });
          const warnings = checkPlausibility(vector);
          expect(hasImplausibleValues(vector)).toBe(warnings.length > 0);
          for (const warning of warnings) expect(warning.message).not.toMatch(/NaN|Infinity/);
        }
      }
    }
  });
});

describe.skipIf(!haveRealCsv)(
  haveRealCsv
    ? "checkPlausibility on the real file"
    : `SKIPPED, real file not found at ${REAL_CSV_PATH} (set LPD_CSV): checkPlausibility on the real file`,
  () => {
    it("flags the rows with direct above total bilirubin and about 1 % for the A/G ratio", async () => {
      const { dataset } = await loadLpdCsv(REAL_CSV_PATH);
      const counts = new Map<string, number>();
      for (let row = 0; row < dataset.rows; row++) {
        for (const warning of checkPlausibility(dataset.features, row * FEATURE_COUNT)) {
          const key = warning.fields[0] ?? "";
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
      }
      expect(Object.fromEntries(counts)).toEqual({ direct_bilirubin: 122, albumin_globulin_ratio: 259 });
    });
  },
);
