import { describe, expect, it } from "vitest";
import { loadLpdCsv } from "../shared/data/lpd-csv-loader.js";
import { Prng } from "../shared/data/prng.js";
import { generateSyntheticDataset } from "../shared/data/synthetic-dataset.js";
import { FEATURE_COUNT, FEATURES } from "../shared/features/feature-schema.js";
import { splitHoldout } from "../shared/model/holdout-split.js";
import { createScorer } from "../shared/model/scorer.js";
import { runTrainingPipeline } from "../shared/model/training-pipeline.js";
import { haveRealCsv, REAL_CSV_PATH } from "../shared/testing/real-dataset.js";
import { PlausibilityScreen } from "./plausibility-screen.js";

const index = (name: string): number => FEATURES.findIndex((f) => f.name === name);
const TB = index("total_bilirubin");
const DB = index("direct_bilirubin");
const ALT = index("alanine_aminotransferase");

describe("PlausibilityScreen", () => {
  const original = generateSyntheticDataset(5_000, 3);
  const screen = new PlausibilityScreen(original);
  const row = (r: number): Float64Array =>
    original.features.slice(r * FEATURE_COUNT, (r + 1) * FEATURE_COUNT);

  it("lets an ordinary patient with a plausible label train", () => {
    expect(screen.screen({ features: row(0), label: 1, probability: 0.7, modelVersion: "v1" })).toEqual({
      state: "trained",
    });
  });

  it("quarantines a label that contradicts a very confident answer, either way", () => {
    const no = screen.screen({ features: row(1), label: 0, probability: 0.995, modelVersion: "v3" });
    expect(no.state === "quarantined" && no.reason).toMatch(
      /^contradicts a very confident model: labelled no liver disease; v3 answered 99\.5%, the original data's model \d/,
    );
    const yes = screen.screen({ features: row(1), label: 1, probability: 0.004, modelVersion: "v3" });
    expect(yes.state).toBe("quarantined");
  });

  it("quarantines values far outside the original data, naming the feature", () => {
    const features = row(2);
    features[ALT] = 9_999;
    const verdict = screen.screen({ features, label: 1, probability: 0.6, modelVersion: "v1" });
    expect(verdict.state).toBe("quarantined");
    expect(verdict.state === "quarantined" && verdict.reason).toMatch(
      /^out-of-range leverage: alanine_aminotransferase = 9999 lies .* standard deviations/,
    );
  });

  it("quarantines an implausible combination whose values are each within range", () => {
    // Direct bilirubin far above a normal total: each value occurs, together they do not.
    const features = row(3);
    features[TB] = 0.7;
    features[DB] = 12;
    const verdict = screen.screen({ features, label: 1, probability: 0.6, modelVersion: "v1" });
    expect(verdict.state === "quarantined" && verdict.reason).toMatch(/implausible combination of values/);
  });

  it("quarantines anything that is not a finite patient (NaN and values log1p cannot take)", () => {
    const nan = row(4);
    nan[TB] = Number.NaN;
    const negative = row(5);
    negative[TB] = -2;
    for (const [features, probability] of [
      [nan, 0.6],
      [negative, 0.6],
      [row(6), Number.NaN],
    ] as const) {
      const verdict = screen.screen({ features, label: 1, probability, modelVersion: "v1" });
      expect(verdict.state === "quarantined" && verdict.reason).toMatch(/not a finite number/);
    }
  });

  it("an attacker picking random values anywhere in the valid ranges gets almost nothing through", () => {
    const random = new Prng(21);
    let trained = 0;
    for (let i = 0; i < 1_000; i++) {
      const features = new Float64Array(FEATURE_COUNT);
      FEATURES.forEach((spec, j) => {
        features[j] =
          spec.kind === "gender"
            ? random.nextFloat() < 0.5
              ? 0
              : 1
            : spec.min + random.nextFloat() * (spec.max - spec.min);
      });
      if (screen.screen({ features, label: 0, probability: 0.6, modelVersion: "v1" }).state === "trained")
        trained++;
    }
    expect(trained).toBeLessThan(20);
  });
});

describe.skipIf(!haveRealCsv)("PlausibilityScreen on the real file", () => {
  it("quarantines under 2% of genuine feedback (true labels, the model's own answers) and 9 in 10 crafted jaundice rows", async () => {
    const { dataset } = await loadLpdCsv(REAL_CSV_PATH);
    const screen = new PlausibilityScreen(dataset);
    const { holdout } = splitHoldout(dataset);
    const trained = await runTrainingPipeline({ original: dataset });
    const scorer = createScorer(trained.pipeline, trained.weights);
    let quarantined = 0;
    for (let r = 0; r < holdout.rows; r++) {
      const features = holdout.features.slice(r * FEATURE_COUNT, (r + 1) * FEATURE_COUNT);
      const probability = scorer.score(features);
      const label = holdout.labels[r] === 1 ? 1 : 0;
      if (screen.screen({ features, label, probability, modelVersion: "v1" }).state === "quarantined")
        quarantined++;
    }
    expect(quarantined / holdout.rows).toBeLessThan(0.02);

    // The measured attack: real profiles with total bilirubin 20-100 and direct 10-50, labelled healthy.
    const random = new Prng(8);
    let crafted = 0;
    for (let i = 0; i < 500; i++) {
      const r = Math.floor(random.nextFloat() * holdout.rows);
      const features = holdout.features.slice(r * FEATURE_COUNT, (r + 1) * FEATURE_COUNT);
      features[TB] = 20 + 80 * random.nextFloat();
      features[DB] = 10 + 40 * random.nextFloat();
      const verdict = screen.screen({
        features,
        label: 0,
        probability: scorer.score(features),
        modelVersion: "v1",
      });
      if (verdict.state === "quarantined") crafted++;
    }
    // Screening alone stops 9 in 10; the gate and the per-source limits are there for the rest.
    expect(crafted).toBeGreaterThanOrEqual(450);
  });
});
