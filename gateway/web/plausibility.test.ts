import { describe, expect, it } from "vitest";
import { apiWarnings, checkPlausibility, mergeWarnings } from "./src/plausibility.js";

describe("plausibility warnings", () => {
  it("warns when direct bilirubin exceeds total, and albumin exceeds total proteins, naming both fields", () => {
    const warnings = checkPlausibility({
      totalBilirubin: 0.5,
      directBilirubin: 5,
      totalProteins: 2,
      albumin: 9,
    });
    expect(warnings.map((w) => w.fields)).toEqual([
      ["direct_bilirubin", "total_bilirubin"],
      ["albumin", "total_proteins"],
    ]);
    expect(warnings[0]?.message).toBe(
      "Direct bilirubin (5 mg/dL) is higher than total bilirubin (0.5 mg/dL), but direct bilirubin is part of total bilirubin. Check both values.",
    );
    expect(warnings[1]?.message).toBe(
      "Albumin (9 g/dL) is higher than total proteins (2 g/dL), but albumin is part of total proteins. Check both values.",
    );
  });

  it("is silent for plausible, equal, missing or non-finite values", () => {
    expect(
      checkPlausibility({ totalBilirubin: 3.1, directBilirubin: 1.4, totalProteins: 6.2, albumin: 2.9 }),
    ).toEqual([]);
    expect(checkPlausibility({ totalBilirubin: 1, directBilirubin: 1 })).toEqual([]);
    expect(checkPlausibility({ directBilirubin: 5 })).toEqual([]);
    expect(checkPlausibility({ totalBilirubin: Number.NaN, directBilirubin: 5 })).toEqual([]);
  });

  it("reads an API answer's warnings in the form's words, and none from an answer without them", () => {
    expect(apiWarnings({ probability: 0.5 })).toEqual([]);
    expect(apiWarnings({ warnings: "not a list" })).toEqual([]);
    expect(
      apiWarnings({
        warnings: [
          { fields: ["albumin", "total_proteins"], message: "albumin is above total_proteins" },
          { field: "age", description: "age 0 with adult values" },
          { fields: ["x"] },
          null,
          7,
        ],
      }),
    ).toEqual([
      { fields: ["albumin", "total_proteins"], message: "Albumin is above Total proteins" },
      { fields: ["age"], message: "Age 0 with adult values" },
    ]);
  });

  it("merges page and API warnings, one per set of fields (the page's, which has units)", () => {
    const page = checkPlausibility({ totalProteins: 2, albumin: 9 });
    const api = [
      { fields: ["total_proteins", "albumin"], message: "Albumin is above Total proteins" },
      { fields: ["age"], message: "Age unusual" },
    ];
    const merged = mergeWarnings(page, api);
    expect(merged.map((w) => w.message)).toEqual([page[0]?.message, "Age unusual"]);
  });
});
