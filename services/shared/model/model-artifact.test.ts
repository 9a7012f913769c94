import { mkdir, mkdtemp, readdir, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FEATURE_COUNT } from "../features/feature-schema.js";
import { allocateDataset } from "../data/dataset.js";
import { fitFeaturePipeline } from "./feature-pipeline.js";
import { buildLayersModel, saveModelFiles } from "./logistic-model.js";
import { evaluateBinary, type ModelMetrics } from "./metrics.js";
import {
  buildArtifactFiles,
  isTemporaryArtifactName,
  manifestSha256,
  readArtifactDir,
  readArtifactFiles,
  sha256Hex,
  verifyArtifactFiles,
  writeArtifact,
  type ArtifactContents,
  type ArtifactFile,
} from "./model-artifact.js";
import { getTfBackend } from "./tf-backend.js";

async function sampleContents(version: string): Promise<ArtifactContents> {
  const { tf } = await getTfBackend({ info: () => undefined });
  const data = allocateDataset(4, "synthetic");
  data.features.set(Array.from({ length: 4 * FEATURE_COUNT }, (_, i) => 1 + (i % 7)));
  const weights = { kernel: Float64Array.from({ length: FEATURE_COUNT }, (_, i) => i / 10 - 0.3), bias: 0.2 };
  const model = buildLayersModel(tf, weights);
  const files = await saveModelFiles(tf, model);
  model.dispose();
  const metrics: ModelMetrics = {
    holdout: evaluateBinary([1, 0, 1, 0], [0.9, 0.2, 0.6, 0.7]),
    training: {
      rows: 4,
      positives: 2,
      loss: 0.5,
      objective: 0.51,
      iterations: 6,
      converged: true,
      l1: 1e-4,
      zeroWeights: 0,
    },
  };
  return {
    version,
    createdAt: new Date("2026-01-02T03:04:05.000Z"),
    dataSource: "synthetic",
    tfBackend: "wasm",
    rowCounts: {
      originalRows: 6,
      uniqueRows: 5,
      duplicatesRemoved: 1,
      trainRows: 4,
      holdoutRows: 1,
      feedbackRows: 0,
      feedbackRowsDropped: 0,
    },
    holdoutFingerprint: "f".repeat(64),
    holdoutScheme: "lab-profile-v1",
    model: files,
    pipeline: fitFeaturePipeline(data),
    metrics,
  };
}

describe("model artifacts", () => {
  let root: string;
  let contents: ArtifactContents;
  let files: ArtifactFile[];
  let written: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "artifact-test-"));
    contents = await sampleContents("v1");
    files = buildArtifactFiles(contents);
    written = (await writeArtifact(root, "v1", files)).dir;
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** A fresh copy of v1 to damage. */
  async function copyOfV1(name: string): Promise<string> {
    const dir = path.join(root, name, "v1");
    await mkdir(dir, { recursive: true });
    for (const file of files) await writeFile(path.join(dir, file.name), file.content);
    return dir;
  }

  it("writes one folder per version with a manifest hashing every other file", async () => {
    expect(written).toBe(path.join(root, "v1"));
    expect((await readdir(written)).sort()).toEqual([
      "manifest.json",
      "metrics.json",
      "model.json",
      "pipeline.json",
      "weights.bin",
    ]);
    const manifest = JSON.parse(await readFile(path.join(written, "manifest.json"), "utf8")) as {
      version: string;
      createdAt: string;
      dataSource: string;
      tfBackend: string;
      rowCounts: { trainRows: number };
      files: { name: string; size: number; sha256: string }[];
    };
    expect(manifest.version).toBe("v1");
    expect(manifest.createdAt).toBe("2026-01-02T03:04:05.000Z");
    expect(manifest.dataSource).toBe("synthetic");
    expect(manifest.tfBackend).toBe("wasm");
    expect(manifest.rowCounts.trainRows).toBe(4);
    for (const entry of manifest.files) {
      const content = await readFile(path.join(written, entry.name));
      expect(entry.size).toBe(content.byteLength);
      expect(entry.sha256).toBe(sha256Hex(content));
    }
    expect(manifest.files.map((f) => f.name).sort()).toEqual([
      "metrics.json",
      "model.json",
      "pipeline.json",
      "weights.bin",
    ]);
    // Nothing temporary is left beside the version.
    expect(await readdir(root)).toEqual(["v1"]);
  });

  it("reads back what was written, from disk and from memory", async () => {
    const loaded = await readArtifactDir(written);
    expect(loaded.pipeline).toEqual(contents.pipeline);
    expect(loaded.metrics).toEqual(contents.metrics);
    expect(loaded.manifest.version).toBe("v1");
    expect(loaded.weights.bias).toBe(Math.fround(0.2));
    const fromDisk = await readArtifactFiles(written);
    expect(fromDisk.map((f) => f.sha256)).toEqual(fromDisk.map((f) => sha256Hex(f.content)));
    const sha = manifestSha256(fromDisk);
    expect(sha).toBe(loaded.manifestSha256);
    // As Predict receives it: files over gRPC plus the manifest's sha256.
    const overGrpc = fromDisk.map(({ name, content }) => ({ name, content: Uint8Array.from(content) }));
    expect(verifyArtifactFiles(overGrpc, sha).weights).toEqual(loaded.weights);
  });

  it("carries the site recalibration in calibration.json, and serves the base model without one", () => {
    expect(verifyArtifactFiles(files).calibration).toEqual({ slope: 1, intercept: 0 });
    const record = {
      formatVersion: 1 as const,
      slope: 0.9,
      intercept: -1.5,
      applied: true,
      reason: "test",
      fitRows: 750,
      checkRows: 250,
      checkLogLossBase: 0.79,
      checkLogLossRecalibrated: 0.5,
    };
    const withCalibration = buildArtifactFiles({ ...contents, calibration: record });
    const loaded = verifyArtifactFiles(withCalibration);
    expect(loaded.calibration).toEqual({ slope: 0.9, intercept: -1.5 });
    expect(loaded.calibrationRecord).toEqual(record);
    // A calibration outside the influence bound is refused, even with a valid manifest.
    for (const bad of [{ slope: -1 }, { slope: 9 }, { intercept: 7 }, { slope: Number.NaN }]) {
      const tampered = buildArtifactFiles({ ...contents, calibration: { ...record, ...bad } });
      expect(() => verifyArtifactFiles(tampered)).toThrow(/calibration\.json: (slope|intercept)/);
    }
  });

  it("refuses a manifest whose sha256 is not the one announced", () => {
    expect(() => verifyArtifactFiles(files, "0".repeat(64))).toThrow(
      /manifest.json has sha256 [0-9a-f]{64}; expected 0{64} \(altered or from another version\)/,
    );
  });

  it("refuses a truncated file, naming it", async () => {
    const dir = await copyOfV1("truncated");
    const weights = await readFile(path.join(dir, "weights.bin"));
    await writeFile(path.join(dir, "weights.bin"), weights.subarray(0, 20));
    await expect(readArtifactDir(dir)).rejects.toThrow(
      /weights.bin is 20 bytes; manifest.json says 44 \(truncated\)/,
    );
  });

  it("refuses an altered file of the same size, naming it", async () => {
    const dir = await copyOfV1("altered");
    const pipeline = await readFile(path.join(dir, "pipeline.json"), "utf8");
    await writeFile(path.join(dir, "pipeline.json"), pipeline.replace('"age"', '"agf"'));
    await expect(readArtifactDir(dir)).rejects.toThrow(
      /pipeline.json does not match its sha256 in manifest.json/,
    );
  });

  it("refuses a missing file and an extra file, naming them", async () => {
    const missing = await copyOfV1("missing");
    await unlink(path.join(missing, "metrics.json"));
    await expect(readArtifactDir(missing)).rejects.toThrow(
      /metrics.json is missing: listed in manifest.json/,
    );
    const extra = await copyOfV1("extra");
    await writeFile(path.join(extra, "notes.txt"), "hello");
    await expect(readArtifactDir(extra)).rejects.toThrow(/notes.txt is not listed in manifest.json/);
    const nested = await copyOfV1("nested");
    await mkdir(path.join(nested, "sub"));
    await expect(readArtifactDir(nested)).rejects.toThrow(/sub is not a regular file/);
  });

  it("refuses half-written artifacts: no manifest, or a temporary folder name", async () => {
    const noManifest = await copyOfV1("no-manifest");
    await unlink(path.join(noManifest, "manifest.json"));
    await expect(readArtifactDir(noManifest)).rejects.toThrow(
      /manifest.json is missing in .*incomplete or half-written/,
    );
    const crashed = await copyOfV1("crashed");
    const temp = path.join(path.dirname(crashed), ".v1.tmp-1234-abcdef");
    await rename(crashed, temp);
    expect(isTemporaryArtifactName(path.basename(temp))).toBe(true);
    await expect(readArtifactDir(temp)).rejects.toThrow(/temporary artifact folder/);
  });

  it("refuses an altered manifest and a folder that is not the manifest's version", async () => {
    const dir = await copyOfV1("edited-manifest");
    const manifest = await readFile(path.join(dir, "manifest.json"), "utf8");
    await writeFile(path.join(dir, "manifest.json"), manifest.replace('"size": 44', '"size": 40'));
    await expect(readArtifactDir(dir)).rejects.toThrow(/weights.bin is 44 bytes; manifest.json says 40/);
    const renamed = await copyOfV1("renamed");
    const v9 = path.join(path.dirname(renamed), "v9");
    await rename(renamed, v9);
    await expect(readArtifactDir(v9)).rejects.toThrow(/names version v1, not v9/);
  });

  it("never overwrites a version and checks version names", async () => {
    await expect(writeArtifact(root, "v1", files)).rejects.toThrow(/model version v1 already exists/);
    await expect(writeArtifact(root, "v2", files)).rejects.toThrow(
      /manifest.json names version v1; writing it as v2 would mislabel it/,
    );
    await expect(writeArtifact(root, "../v2", files)).rejects.toThrow(/model version "..\/v2" is invalid/);
    expect(() => buildArtifactFiles({ ...contents, version: "v0" })).toThrow(/"v0" is invalid/);
    const withoutWeights = files.filter((f) => f.name !== "weights.bin");
    await expect(writeArtifact(root, "v1", withoutWeights)).rejects.toThrow(/weights.bin is missing/);
    expect((await readdir(root)).filter((n) => n.startsWith("."))).toEqual([]);
  });

  it("writes the next version beside the first", async () => {
    const v2 = buildArtifactFiles({ ...(await sampleContents("v2")) });
    const { dir, manifestSha256: sha } = await writeArtifact(root, "v2", v2);
    expect(sha).toBe(manifestSha256(v2));
    expect((await readArtifactDir(dir)).manifest.version).toBe("v2");
  });
});
