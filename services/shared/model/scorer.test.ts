import { describe, expect, it } from "vitest";
import { FEATURE_COUNT, FEATURES } from "../features/feature-schema.js";
import { allocateDataset } from "../data/dataset.js";
import { loadLpdCsv } from "../data/lpd-csv-loader.js";
import { fitFeaturePipeline, transformRows, type PipelineParams } from "./feature-pipeline.js";
import { verifyArtifactFiles } from "./model-artifact.js";
import { clinicalDirection, nearestNormal, referenceInterval } from "../features/clinical-reference.js";
import { encodeValue } from "./feature-pipeline.js";
import { createScorer, sigmoid } from "./scorer.js";
import { getTfBackend } from "./tf-backend.js";
import { runTrainingPipeline } from "./training-pipeline.js";
import { REAL_CSV_PATH, haveRealCsv } from "../testing/real-dataset.js";
import { Prng } from "../data/prng.js";

/** Random raw rows inside plausible lab ranges. */
function rawRows(rows: number, seed: number): Float64Array {
  const random = new Prng(seed);
  const out = new Float64Array(rows * FEATURE_COUNT);
  for (let row = 0; row < rows; row++) {
    FEATURES.forEach((spec, i) => {
      out[row * FEATURE_COUNT + i] =
        spec.kind === "gender"
          ? random.nextFloat() < 0.5
            ? 1
            : 0
          : spec.min + random.nextFloat() * Math.min(spec.max - spec.min, 300);
    });
  }
  return out;
}

const KERNEL = Float64Array.from([0.3, -0.2, 0.9, 0.4, 0.25, 0.5, 0.6, -0.1, -0.35, -0.2]);

describe("sigmoid", () => {
  it("is exact at 0, symmetric, and finite at extremes", () => {
    expect(sigmoid(0)).toBe(0.5);
    expect(sigmoid(2) + sigmoid(-2)).toBeCloseTo(1, 15);
    expect(sigmoid(800)).toBe(1);
    expect(sigmoid(-800)).toBe(0);
    expect(sigmoid(-40)).toBeGreaterThan(0);
  });
});

describe("createScorer", () => {
  const dataset = allocateDataset(500, "synthetic");
  dataset.features.set(rawRows(500, 3));
  const pipeline: PipelineParams = fitFeaturePipeline(dataset);
  const scorer = createScorer(pipeline, { kernel: KERNEL, bias: -0.4 });

  it("equals the pipeline transform followed by the logistic model", () => {
    const standardized = new Float64Array(500 * FEATURE_COUNT);
    transformRows(pipeline, dataset, standardized);
    for (let row = 0; row < 500; row++) {
      let z = -0.4;
      for (let i = 0; i < FEATURE_COUNT; i++)
        z += (KERNEL[i] ?? 0) * (standardized[row * FEATURE_COUNT + i] ?? 0);
      expect(scorer.score(dataset.features, row * FEATURE_COUNT)).toBeCloseTo(1 / (1 + Math.exp(-z)), 12);
    }
  });

  it("folds the site recalibration in: sigmoid(slope × logit + intercept)", () => {
    const calibrated = createScorer(
      pipeline,
      { kernel: KERNEL, bias: -0.4 },
      { slope: 0.8, intercept: -1.7 },
    );
    for (let row = 0; row < 500; row++) {
      const p = scorer.score(dataset.features, row * FEATURE_COUNT);
      const logit = Math.log(p / (1 - p));
      expect(calibrated.score(dataset.features, row * FEATURE_COUNT)).toBeCloseTo(
        sigmoid(0.8 * logit - 1.7),
        10,
      );
    }
  });

  it("scores a batch exactly as row by row", () => {
    const out = new Float64Array(500);
    scorer.scoreBatch(dataset.features, 500, out);
    out.forEach((p, row) => expect(p).toBe(scorer.score(dataset.features, row * FEATURE_COUNT)));
    expect(() => scorer.scoreBatch(dataset.features, 501, new Float64Array(501))).toThrow(
      /501 rows needs 5010 inputs and 501 outputs; got 5000 and 501/,
    );
  });

  it("hand case: log1p applies exactly where the schema says", () => {
    const identity: PipelineParams = {
      formatVersion: 1,
      features: FEATURES.map((spec) => ({
        name: spec.name,
        log1p: spec.kind === "numeric" && spec.logTransform,
        mean: 0,
        std: 1,
      })),
    };
    const onlyBilirubin = new Float64Array(FEATURE_COUNT);
    onlyBilirubin[2] = 1; // total_bilirubin, log-transformed
    const vector = new Float64Array(FEATURE_COUNT).fill(5);
    vector[2] = Math.E - 1;
    expect(createScorer(identity, { kernel: onlyBilirubin, bias: 0 }).score(vector)).toBeCloseTo(
      sigmoid(1),
      15,
    );
    const onlyAge = new Float64Array(FEATURE_COUNT);
    onlyAge[0] = 0.1; // age, not transformed
    expect(createScorer(identity, { kernel: onlyAge, bias: -1 }).score(vector)).toBeCloseTo(
      sigmoid(-0.5),
      15,
    );
  });

  /**
   * The standardized vector of the row's reference, computed independently of the scorer:
   * each lab at its nearest value within normal limits, age and gender at the mean (z = 0).
   */
  const referenceZ = (vectors: Float64Array, offset: number): Float64Array =>
    Float64Array.from(pipeline.features, (transform, i) => {
      const normal = nearestNormal(transform.name, vectors[offset + i] ?? Number.NaN);
      return normal === undefined ? 0 : (encodeValue(transform, normal) - transform.mean) / transform.std;
    });
  const referenceLogitOf = (zref: Float64Array): number =>
    zref.reduce((sum, z, i) => sum + (KERNEL[i] ?? 0) * z, -0.4);

  it("explains exactly: reference log-odds plus contributions is the logit of the score", () => {
    const contributions = new Float64Array(FEATURE_COUNT);
    const standardized = new Float64Array(500 * FEATURE_COUNT);
    transformRows(pipeline, dataset, standardized);
    const references = new Set<number>();
    for (let row = 0; row < 500; row++) {
      const zref = referenceZ(dataset.features, row * FEATURE_COUNT);
      const reference = scorer.explain(dataset.features, row * FEATURE_COUNT, contributions);
      expect(reference).toBeCloseTo(referenceLogitOf(zref), 12);
      references.add(reference);
      contributions.forEach((c, i) =>
        expect(c).toBeCloseTo(
          (KERNEL[i] ?? 0) * ((standardized[row * FEATURE_COUNT + i] ?? 0) - (zref[i] ?? 0)),
          12,
        ),
      );
      const p = scorer.score(dataset.features, row * FEATURE_COUNT);
      const sum = contributions.reduce((a, b) => a + b, reference);
      expect(Math.abs(sum - (Math.log(p) - Math.log1p(-p)))).toBeLessThanOrEqual(1e-9);
    }
    // The reference is each patient's own (their values brought within limits), not one patient.
    expect(references.size).toBeGreaterThan(100);
  });

  it("explains a recalibrated answer exactly too: contributions scaled by the slope, the reference shifted", () => {
    const calibrated = createScorer(
      pipeline,
      { kernel: KERNEL, bias: -0.4 },
      { slope: 0.7, intercept: -1.9 },
    );
    const base = new Float64Array(FEATURE_COUNT);
    const contributions = new Float64Array(FEATURE_COUNT);
    for (let row = 0; row < 500; row++) {
      const baseReference = scorer.explain(dataset.features, row * FEATURE_COUNT, base);
      const reference = calibrated.explain(dataset.features, row * FEATURE_COUNT, contributions);
      expect(reference).toBeCloseTo(0.7 * baseReference - 1.9, 12);
      contributions.forEach((c, i) => expect(c).toBeCloseTo(0.7 * (base[i] ?? 0), 12));
      const p = calibrated.score(dataset.features, row * FEATURE_COUNT);
      const sum = contributions.reduce((a, b) => a + b, reference);
      expect(Math.abs(sum - (Math.log(p) - Math.log1p(-p)))).toBeLessThanOrEqual(1e-9);
    }
  });

  it("explains a patient whose labs are all within normal limits, age and gender at the mean, with no contributions", () => {
    for (const where of [0, 0.5, 1]) {
      const patient = Float64Array.from(pipeline.features, (f) => {
        const interval = referenceInterval(f.name);
        if (interval !== undefined) return interval.low + where * (interval.high - interval.low);
        return f.log1p ? Math.expm1(f.mean) : f.mean;
      });
      const contributions = new Float64Array(FEATURE_COUNT);
      const reference = scorer.explain(patient, 0, contributions);
      contributions.forEach((c) => expect(Math.abs(c)).toBeLessThanOrEqual(1e-12));
      expect(scorer.score(patient)).toBeCloseTo(sigmoid(reference), 12);
    }
  });

  it("with weights of the clinical sign, a lab beyond normal limits on the disease side raises the estimate; within limits or beyond the healthy side it contributes nothing", () => {
    const signed = Float64Array.from(KERNEL, (k, i) => {
      const direction = clinicalDirection(FEATURES[i]?.name ?? "");
      return direction === undefined ? k : direction * Math.abs(k);
    });
    const clinical = createScorer(pipeline, { kernel: signed, bias: -0.4 });
    const contributions = new Float64Array(FEATURE_COUNT);
    const patient = new Float64Array(FEATURE_COUNT);
    FEATURES.forEach((spec, i) => {
      const interval = referenceInterval(spec.name);
      if (interval?.direction === undefined) return;
      for (const factor of [1.01, 1.5, 4, 40]) {
        patient.set(dataset.features.subarray(0, FEATURE_COUNT));
        patient[i] = interval.direction === 1 ? interval.high * factor : interval.low / factor;
        clinical.explain(patient, 0, contributions);
        expect(contributions[i], `${spec.name} at ${patient[i]}`).toBeGreaterThan(0);
        // Within normal limits, and beyond the healthy-side limit, exactly nothing.
        for (const value of [
          interval.low,
          (interval.low + interval.high) / 2,
          interval.high,
          interval.direction === 1 ? interval.low / factor : interval.high * factor,
        ]) {
          patient[i] = value;
          clinical.explain(patient, 0, contributions);
          expect(contributions[i], `${spec.name} at ${value}`).toBe(0);
        }
      }
    });
  });

  it("scores a lab beyond its healthy-side limit exactly as the limit, and total proteins below 6.0 as 6.0", () => {
    const patient = new Float64Array(FEATURE_COUNT);
    FEATURES.forEach((spec, i) => {
      const interval = referenceInterval(spec.name);
      if (interval === undefined) return;
      patient.set(dataset.features.subarray(0, FEATURE_COUNT));
      // An albumin of 5.8 counts as 5.4; an ALT of 1 as 4; total proteins of 2 as 6.
      patient[i] = interval.direction === 1 ? interval.low / 3 - 0.01 : interval.high * 1.1;
      const beyond = scorer.score(patient);
      const limit = Float64Array.from(patient);
      limit[i] = interval.direction === 1 ? interval.low : interval.high;
      expect(beyond, spec.name).toBe(scorer.score(limit));
    });
  });

  it("serves a pipeline without bounds (an artifact from before the clinical encoding) unclipped, as it was trained", () => {
    const plain = fitFeaturePipeline(dataset, { encoding: "plain" });
    const legacy = createScorer(plain, { kernel: KERNEL, bias: -0.4 });
    const standardized = new Float64Array(500 * FEATURE_COUNT);
    transformRows(plain, dataset, standardized);
    for (let row = 0; row < 500; row++) {
      let z = -0.4;
      for (let i = 0; i < FEATURE_COUNT; i++)
        z += (KERNEL[i] ?? 0) * (standardized[row * FEATURE_COUNT + i] ?? 0);
      expect(legacy.score(dataset.features, row * FEATURE_COUNT)).toBeCloseTo(sigmoid(z), 12);
    }
    const patient = Float64Array.from(dataset.features.subarray(0, FEATURE_COUNT));
    patient[5] = 1; // ALT 1: below its lower limit 4
    const atOne = legacy.score(patient);
    const clippedAtOne = scorer.score(patient);
    patient[5] = 4;
    expect(legacy.score(patient)).not.toBe(atOne);
    expect(scorer.score(patient)).toBe(clippedAtOne);
  });

  it("refuses parameters of the wrong width", () => {
    expect(() => createScorer(pipeline, { kernel: new Float64Array(9), bias: 0 })).toThrow(
      /pipeline has 10, kernel has 9/,
    );
  });
});

describe.skipIf(!haveRealCsv)("parity with the tfjs evaluation on the real data", () => {
  it("matches model.predict on every holdout row within 1e-6", async () => {
    const backend = await getTfBackend({ info: () => undefined });
    const { dataset } = await loadLpdCsv(REAL_CSV_PATH);
    const result = await runTrainingPipeline({ original: dataset, backend, artifact: { version: "v1" } });
    const artifact = result.artifact;
    if (artifact === undefined) throw new Error("artifact expected");
    // The scorer Predict builds: from the artifact files as received over gRPC.
    const loaded = verifyArtifactFiles(artifact.files, artifact.manifestSha256);
    const scorer = createScorer(loaded.pipeline, loaded.weights);
    const { holdout, holdoutProbabilities } = result;
    expect(holdout.rows).toBe(3348);
    let worst = 0;
    for (let row = 0; row < holdout.rows; row++) {
      const delta = Math.abs(
        scorer.score(holdout.features, row * FEATURE_COUNT) - (holdoutProbabilities[row] ?? 0),
      );
      worst = Math.max(worst, delta);
    }
    expect(worst).toBeLessThanOrEqual(1e-6);
    const batch = new Float64Array(holdout.rows);
    scorer.scoreBatch(holdout.features, holdout.rows, batch);
    expect(batch.every((p, row) => Math.abs(p - (holdoutProbabilities[row] ?? 0)) <= 1e-6)).toBe(true);

    // The explanation is exact on every real row (training and holdout alike).
    const contributions = new Float64Array(FEATURE_COUNT);
    let worstExplanation = 0;
    for (let row = 0; row < dataset.rows; row++) {
      const offset = row * FEATURE_COUNT;
      const reference = scorer.explain(dataset.features, offset, contributions);
      const p = scorer.score(dataset.features, offset);
      const logit = Math.log(p) - Math.log1p(-p);
      const sum = contributions.reduce((a, b) => a + b, reference);
      worstExplanation = Math.max(worstExplanation, Math.abs(sum - logit));
    }
    expect(dataset.rows).toBeGreaterThan(16_000);
    expect(worstExplanation).toBeLessThanOrEqual(1e-9);
  });
});
