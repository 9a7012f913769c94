import { describe, expect, it } from "vitest";
import { FEATURE_COUNT, FEATURES } from "../shared/features/feature-schema.js";
import { fitFeaturePipeline } from "../shared/model/feature-pipeline.js";
import { HOLDOUT_SLICES } from "../shared/model/holdout-slices.js";
import { IDENTITY_CALIBRATION } from "../shared/model/output-calibration.js";
import { DEFAULT_SITE, servedClasses, servedProbabilities, type ServedModel } from "./served-answers.js";
import {
  approvalReason,
  exceeds,
  measureServedChange,
  POPULATION,
  servedChangeChecks,
} from "./served-change.js";
import { smallDataset } from "./testing/retrain-fixtures.js";

const holdout = smallDataset(600, 11);
const pipeline = fitFeaturePipeline(holdout);
const BILIRUBIN = FEATURES.findIndex((f) => f.name === "total_bilirubin");

/**
 * A model that leans on total bilirubin, served at the default site with `intercept` added
 * to its log-odds, and at each of `sites` with that site's intercept.
 */
function model(
  modelVersion: string,
  intercept: number,
  sites: Readonly<Record<string, number>> = {},
): ServedModel {
  const kernel = new Float64Array(FEATURE_COUNT);
  kernel[BILIRUBIN] = 2;
  return {
    modelVersion,
    pipeline,
    weights: { kernel, bias: 0 },
    calibrations: {
      defaultSite: { slope: 1, intercept },
      sites: new Map(Object.entries(sites).map(([site, b]) => [site, { slope: 1, intercept: b }])),
    },
    threshold: 0.5,
  };
}

describe("served answers and their change against the approved version", () => {
  it("applies the version's calibration: a shifted intercept moves the served probability", () => {
    const base = servedProbabilities(model("v1", 0), DEFAULT_SITE, holdout);
    const shifted = servedProbabilities(model("v2", -1), DEFAULT_SITE, holdout);
    for (let row = 0; row < 20; row++) expect(shifted[row]).toBeLessThan(base[row] ?? 0);
    // A site without a calibration of its own is answered by the base model, uncalibrated.
    const uncalibrated = servedProbabilities(model("v2", -1), "clinic-a", holdout);
    expect(Array.from(uncalibrated)).toEqual(Array.from(base));
  });

  it("judges every site either version calibrates, and only that site moves with its feedback", () => {
    const approved = model("v1", 0);
    const candidate = model("v2", 0, { "clinic-a": -1.5 });
    const evidence = measureServedChange(holdout, candidate, approved, 50);
    const population = (site: string) =>
      evidence.changes.find((c) => c.site === site && c.slice === POPULATION);
    expect(population(DEFAULT_SITE)?.changed).toBe(0);
    expect(population("clinic-a")?.changed).toBeGreaterThan(0);
    expect(servedChangeChecks(evidence, 0.02).some((c) => !c.passed && c.rule.includes("clinic-a"))).toBe(
      true,
    );
  });

  it("counts the rows whose served class changed, on the population and on every slice", () => {
    const approved = model("v1", 0);
    const candidate = model("v2", -1.5);
    const evidence = measureServedChange(holdout, candidate, approved, 50);
    expect(evidence.approvedVersion).toBe("v1");
    const before = servedClasses(approved, DEFAULT_SITE, holdout);
    const after = servedClasses(candidate, DEFAULT_SITE, holdout);
    let expected = 0;
    for (let row = 0; row < holdout.rows; row++) if (before[row] !== after[row]) expected++;
    expect(expected).toBeGreaterThan(0);
    const population = evidence.changes.find((c) => c.slice === POPULATION);
    expect(population).toEqual({
      site: DEFAULT_SITE,
      slice: POPULATION,
      rows: 600,
      changed: expected,
      judged: true,
    });
    expect(evidence.changes.map((c) => c.slice)).toEqual([POPULATION, ...HOLDOUT_SLICES.map((s) => s.name)]);
    for (const change of evidence.changes) {
      expect(change.changed).toBeLessThanOrEqual(change.rows);
      expect(change.judged).toBe(change.slice === POPULATION ? true : change.rows >= 50);
    }
    const sliced = evidence.changes.filter((c) => c.slice.startsWith("gender="));
    expect(sliced.reduce((sum, c) => sum + c.changed, 0)).toBe(expected);
  });

  it("finds no change between a version and itself, and none for the first version", () => {
    const same = measureServedChange(holdout, model("v2", 0.3), model("v1", 0.3), 50);
    expect(same.changes.every((c) => c.changed === 0)).toBe(true);
    expect(servedChangeChecks(same, 0).every((c) => c.passed)).toBe(true);
    expect(measureServedChange(holdout, model("v1", 0), undefined, 50)).toEqual({
      approvedVersion: undefined,
      changes: [],
    });
  });

  it("holds a change above the bound for a person, and only judged ones", () => {
    const evidence = measureServedChange(holdout, model("v2", -1.5), model("v1", 0), 50);
    const population = evidence.changes.find((c) => c.slice === POPULATION);
    if (population === undefined) throw new Error("no population entry");
    const share = population.changed / population.rows;
    expect(exceeds(population, share)).toBe(false); // the bound itself is allowed
    expect(exceeds(population, share - 1e-9)).toBe(true);
    expect(exceeds({ ...population, judged: false }, 0)).toBe(false);
    const checks = servedChangeChecks(evidence, 0.02);
    const failed = checks.filter((c) => !c.passed);
    expect(failed.map((c) => c.rule)).toContain(`served:${DEFAULT_SITE}:${POPULATION}`);
    expect(failed[0]?.detail).toMatch(/answered another class than by approved v1 at site default/);
    expect(approvalReason(evidence, 0.02)).toMatch(
      /^waits for approval: .* against approved v1: default\/population/,
    );
    expect(servedChangeChecks(evidence, 1).every((c) => c.passed)).toBe(true);
  });

  it("judges the identity calibration like the base model", () => {
    const base: ServedModel = {
      ...model("v1", 0),
      calibrations: { defaultSite: IDENTITY_CALIBRATION, sites: new Map() },
    };
    const evidence = measureServedChange(holdout, base, model("v0", 0), 50);
    expect(evidence.changes.every((c) => c.changed === 0)).toBe(true);
  });
});
