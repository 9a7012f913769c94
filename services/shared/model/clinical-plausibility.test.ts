import { describe, expect, it } from "vitest";
import { clinicalDirection } from "../features/clinical-reference.js";
import { FEATURES } from "../features/feature-schema.js";
import { loadLpdCsv } from "../data/lpd-csv-loader.js";
import { REAL_CSV_PATH, haveRealCsv } from "../testing/real-dataset.js";
import { countExplanationFindings } from "./explanation-audit.js";
import { verifyArtifactFiles } from "./model-artifact.js";
import { createScorer } from "./scorer.js";
import { getTfBackend } from "./tf-backend.js";
import { CLINICAL_SIGNS, runTrainingPipeline } from "./training-pipeline.js";

describe("clinical signs", () => {
  it("constrain bilirubin, ALP, ALT, AST and total proteins up, albumin and A/G down, and leave age and gender free", () => {
    expect(Object.fromEntries(FEATURES.map((spec, i) => [spec.name, CLINICAL_SIGNS[i]]))).toEqual({
      age: 0,
      gender: 0,
      total_bilirubin: 1,
      direct_bilirubin: 1,
      alkaline_phosphatase: 1,
      alanine_aminotransferase: 1,
      aspartate_aminotransferase: 1,
      total_proteins: 1,
      albumin: -1,
      albumin_globulin_ratio: -1,
    });
  });
});

describe.skipIf(!haveRealCsv)(
  haveRealCsv
    ? "the served model on every complete row of the real file"
    : `SKIPPED, real file not found at ${REAL_CSV_PATH} (set LPD_CSV): the served model on every complete row of the real file`,
  () => {
    it("never lets a constrained feature contribute against its direction, nor any value outside normal limits lower the estimate", async () => {
      const backend = await getTfBackend({ info: () => undefined });
      const { dataset } = await loadLpdCsv(REAL_CSV_PATH);
      expect(dataset.source).toBe("real");
      expect(dataset.rows).toBe(27_158);
      const result = await runTrainingPipeline({ original: dataset, backend, artifact: { version: "v1" } });
      const artifact = result.artifact;
      if (artifact === undefined) throw new Error("artifact expected");
      // The weights Predict serves: read back from the artifact's tfjs weight file.
      const served = verifyArtifactFiles(artifact.files, artifact.manifestSha256);
      FEATURES.forEach((spec, i) => {
        const direction = clinicalDirection(spec.name);
        const weight = served.weights.kernel[i] ?? Number.NaN;
        if (direction !== undefined) expect(direction * weight, spec.name).toBeGreaterThanOrEqual(0);
      });
      const findings = countExplanationFindings(
        createScorer(served.pipeline, served.weights),
        served.weights.kernel,
        dataset.features,
        dataset.rows,
      );
      expect(findings.rows).toBe(27_158);
      expect(findings.againstDirection).toBe(0);
      expect(findings.abnormalLowered).toBe(0);
      expect(findings.totalProteinsLowered).toBe(0);
      // Explanations compare with the same patient brought within normal limits, so nothing
      // outside them reads "lowered" (a lab beyond its healthy-side limit, such as an albumin
      // above 5.4, contributes exactly 0), and such a lab counts exactly as the limit.
      expect(findings.healthySideNotAtLimit).toBe(0);
      expect(findings.healthySideLowered).toBe(0);
      expect(findings.anyOutsideLowered).toBe(0);
      expect(findings.worstSumError).toBeLessThanOrEqual(1e-9);
      // The direct bilirubin, ALT and albumin signal is kept, not zeroed away.
      expect(served.weights.kernel[3]).toBeGreaterThan(0.3);
      expect(served.weights.kernel[5]).toBeGreaterThan(0.2);
      expect(served.weights.kernel[8]).toBeLessThan(-0.2);
    });

    it("an unconstrained fit of the same rows does contradict medicine (what the constraint prevents)", async () => {
      const backend = await getTfBackend({ info: () => undefined });
      const { dataset } = await loadLpdCsv(REAL_CSV_PATH);
      const free = await runTrainingPipeline({
        original: dataset,
        backend,
        trainer: { signs: CLINICAL_SIGNS.map(() => 0 as const) },
      });
      const findings = countExplanationFindings(
        createScorer(free.pipeline, free.weights),
        free.weights.kernel,
        dataset.features,
        dataset.rows,
      );
      expect(findings.againstDirection).toBeGreaterThan(0);
      expect(findings.abnormalLowered).toBeGreaterThan(0);
    });

    it("without the clinical encoding, total proteins below 6.0 lowers the estimate and a high albumin reads as more than its limit", async () => {
      const backend = await getTfBackend({ info: () => undefined });
      const { dataset } = await loadLpdCsv(REAL_CSV_PATH);
      const plain = await runTrainingPipeline({ original: dataset, backend, encoding: "plain" });
      const findings = countExplanationFindings(
        createScorer(plain.pipeline, plain.weights),
        plain.weights.kernel,
        dataset.features,
        dataset.rows,
      );
      expect(findings.totalProteinsLowered).toBeGreaterThan(0);
      expect(findings.healthySideNotAtLimit).toBeGreaterThan(0);
    });
  },
);
