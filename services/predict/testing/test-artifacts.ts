/**
 * Real model artifacts for PredictService tests, trained by the shared pipeline on small
 * synthetic datasets (different seeds give different weights, so versions are told apart
 * by their probabilities), and ways to damage them.
 */
import { Buffer } from "node:buffer";
import { generateSyntheticDataset } from "../../shared/data/synthetic-dataset.js";
import { sha256Hex } from "../../shared/model/model-artifact.js";
import { runTrainingPipeline, type TrainingPipelineResult } from "../../shared/model/training-pipeline.js";
import type { ArtifactFile } from "../../gen/liver/v1/retrain_service.js";
import type { FakeVersion } from "./fake-retrain-server.js";

/** A trained version as the fake Retrain server serves it, plus the training run behind it. */
export interface TestArtifact extends FakeVersion {
  readonly files: ArtifactFile[];
  readonly training: TrainingPipelineResult;
}

/** Trains `version` on `rows` synthetic rows generated with `seed`. */
export async function trainTestArtifact(version: string, seed: number, rows = 2_000): Promise<TestArtifact> {
  const training = await runTrainingPipeline({
    original: generateSyntheticDataset(rows, seed),
    artifact: { version },
  });
  const built = training.artifact;
  if (built === undefined) throw new Error("the training pipeline built no artifact");
  const files = built.files.map((file) => {
    const content = Buffer.from(file.content);
    return { name: file.name, content, sha256: sha256Hex(content) };
  });
  return { version, sha256: built.manifestSha256, files, trainedOnSyntheticData: true, training };
}

/** The same artifact with one byte of `fileName` flipped; the manifest (and its sha256) unchanged. */
export function withFlippedByte(artifact: TestArtifact, fileName: string): TestArtifact {
  const files = artifact.files.map((file) => {
    if (file.name !== fileName) return file;
    const content = Buffer.from(file.content);
    const at = content.length >> 1;
    content[at] = (content[at] ?? 0) ^ 0xff;
    return { name: file.name, content, sha256: sha256Hex(content) };
  });
  return { ...artifact, files };
}
