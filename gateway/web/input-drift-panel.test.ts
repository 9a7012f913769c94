import { describe, expect, it } from "vitest";
import type { FeatureSpec } from "./src/gen/liver/v1/model.js";
import type { InputDrift } from "./src/gen/liver/v1/predict_service.js";
import { describeInputDrift } from "./src/input-drift-panel.js";

const ALT: FeatureSpec = {
  name: "alanine_aminotransferase",
  label: "ALT",
  unit: "IU/L",
  min: 0,
  max: 10000,
  allowedValues: [],
  position: 5,
};

const drift = (overrides: Partial<InputDrift>): InputDrift => ({
  measured: true,
  windowRows: 480,
  windowSize: 500,
  threshold: 0.25,
  clearBelow: 0.1,
  features: [
    { name: "age", psi: 0.02, drifted: false, driftingSince: undefined },
    { name: "alanine_aminotransferase", psi: 0.04, drifted: false, driftingSince: undefined },
  ],
  ...overrides,
});

describe("describeInputDrift", () => {
  const now = new Date(2026, 10, 30, 15, 0, 0);

  it("names the drifted feature by its label, since when, and by how much", () => {
    const state = drift({
      features: [
        { name: "age", psi: 0.02, drifted: false, driftingSince: undefined },
        {
          name: "alanine_aminotransferase",
          psi: 0.612,
          drifted: true,
          driftingSince: new Date(2026, 10, 30, 14, 5, 10),
        },
      ],
    });
    expect(describeInputDrift(state, [ALT], now)).toEqual([
      "Inputs have drifted on ALT since 14:05:10 (PSI 0.61 against the training data, above 0.25; last 480 of up to 500 inputs on this replica).",
    ]);
  });

  it("says when inputs match, when there are too few to judge, and when drift is not measured", () => {
    expect(describeInputDrift(drift({}), [ALT], now)).toEqual([
      "Inputs match the training data (last 480 of up to 500 inputs on this replica; every feature's PSI at most 0.25).",
    ]);
    const early = drift({
      windowRows: 12,
      features: [{ name: "age", psi: Number.NaN, drifted: false, driftingSince: undefined }],
    });
    expect(describeInputDrift(early, [], now)).toEqual([
      "Too few inputs to judge drift yet (last 12 of up to 500 inputs on this replica).",
    ]);
    expect(describeInputDrift(undefined, [], now)[0]).toMatch(/^Input drift is not measured/);
    expect(describeInputDrift(drift({ measured: false }), [], now)[0]).toMatch(
      /^Input drift is not measured/,
    );
  });
});
