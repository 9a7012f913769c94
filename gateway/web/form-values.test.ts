import { describe, expect, it } from "vitest";
import { changedFields, partialPatient } from "./src/form-values.js";
import { describeStaleResult, describeStaleVerdict } from "./src/result-freshness.js";

describe("the form's values against a shown result", () => {
  it("lists the fields whose text changed, including ones emptied or added", () => {
    const before = new Map([
      ["age", "52"],
      ["albumin", "2.9"],
      ["gender", "GENDER_MALE"],
    ]);
    expect(changedFields(before, new Map(before))).toEqual([]);
    const now = new Map([
      ["age", "53"],
      ["albumin", "2.9"],
      ["gender", ""],
      ["total_bilirubin", "1"],
    ]);
    expect(changedFields(before, now)).toEqual(["age", "gender", "total_bilirubin"]);
  });

  it("reads the numbers typed so far, with a lone decimal comma, and leaves out the rest", () => {
    expect(
      partialPatient(
        new Map([
          ["total_bilirubin", "0,5"],
          ["direct_bilirubin", "5"],
          ["albumin", "nine"],
          ["total_proteins", ""],
        ]),
      ),
    ).toEqual({ totalBilirubin: 0.5, directBilirubin: 5 });
  });

  it("says in words that a result and its verdict belong to earlier values", () => {
    const label = (name: string) => ({ age: "Age", albumin: "Albumin" })[name] ?? name;
    expect(describeStaleResult({ kind: "edited", fields: ["age", "albumin"] }, label)).toBe(
      "Out of date: this result is for the values entered before your edits (changed: Age, Albumin). Press Predict for an answer to the current values.",
    );
    expect(describeStaleResult({ kind: "check-failed" }, label)).toMatch(/^Not updated: .*earlier values\.$/);
    expect(describeStaleVerdict("p-1")).toBe(
      "Your verdict refers to the prediction above (p-1), made for the earlier values, not to the values now in the form.",
    );
  });
});
