import { describe, expect, it } from "vitest";
import { checkGender, checkNumeric, FEATURES } from "../../services/shared/features/feature-schema.js";
import {
  missingValueMessage,
  notANumberMessage,
  outOfRangeMessage,
  withFieldLabels,
} from "./src/field-messages.js";

const bilirubin = { label: "Total bilirubin", unit: "mg/dL", min: 0.1, max: 80 };

describe("field messages in the form's words", () => {
  it("name the label and unit, never the API name", () => {
    expect(missingValueMessage(bilirubin)).toBe("Enter Total bilirubin: 0.1 to 80 mg/dL.");
    expect(outOfRangeMessage(bilirubin, -1)).toBe(
      "Total bilirubin -1 mg/dL is outside the valid range of 0.1 to 80 mg/dL.",
    );
    expect(notANumberMessage(bilirubin, "high")).toBe(
      'Total bilirubin: "high" is not a number; enter a number from 0.1 to 80 mg/dL.',
    );
  });

  it("translate the server's messages for every field: no API field name or enum name is left", () => {
    for (const spec of FEATURES) {
      const message = spec.kind === "gender" ? checkGender(undefined) : checkNumeric(spec, spec.max + 1);
      const text = withFieldLabels(message ?? "");
      expect(text, spec.name).not.toMatch(/\b[a-z]+_[a-z_]+\b|GENDER_/);
      expect(text, spec.name).toContain(spec.kind === "gender" ? "Choose the patient's sex." : spec.label);
    }
    expect(withFieldLabels("total_bilirubin is -1; valid range is 0.1 to 80 mg/dL")).toBe(
      "Total bilirubin is -1; valid range is 0.1 to 80 mg/dL",
    );
    // The longer name is matched first: the A/G ratio is not read as albumin.
    expect(withFieldLabels("albumin_globulin_ratio is 99")).toBe("Albumin/globulin ratio is 99");
    expect(
      withFieldLabels("gender has unknown enum value 7; expected GENDER_MALE (1) or GENDER_FEMALE (2)"),
    ).toBe("Gender has unknown enum value 7; expected male or female");
  });

  it("read the newer server wording, which leads with the label, without repeating it", () => {
    expect(withFieldLabels("Total bilirubin (total_bilirubin) is -1 mg/dL; valid range 0 to 100 mg/dL")).toBe(
      "Total bilirubin is -1 mg/dL; valid range 0 to 100 mg/dL",
    );
    expect(withFieldLabels("Gender (gender) is required: male (GENDER_MALE) or female (GENDER_FEMALE)")).toBe(
      "Choose the patient's sex.",
    );
    expect(
      withFieldLabels("Albumin/globulin ratio (albumin_globulin_ratio) is 99; valid range 0 to 10"),
    ).toBe("Albumin/globulin ratio is 99; valid range 0 to 10");
  });

  it("leave words that merely contain a field name alone", () => {
    expect(withFieldLabels("hypoalbumin and page_age")).toBe("hypoalbumin and page_age");
  });
});
