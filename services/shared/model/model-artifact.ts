/**
 * Model artifacts: one folder per version holding the tfjs model files (model.json,
 * weights.bin), pipeline.json, metrics.json and manifest.json (sha256 and size of every
 * other file, plus provenance). Written under a temporary name, every file and the folder
 * fsynced, then renamed, then the parent fsynced: a crash leaves either no version or a
 * complete one. Reading verifies the manifest and refuses anything else, naming the file.
 *
 * Two forms, one check: a folder on the Retrain service's disk, and the in-memory file
 * list Predict receives over gRPC with the manifest's sha256 (verifyArtifactFiles).
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { DataSource } from "../data/dataset.js";
import { fsyncPath, writeFileSynced } from "../ops/durable-files.js";
import { parsePipelineParams, type PipelineParams } from "./feature-pipeline.js";
import { MODEL_JSON_FILE, readModelWeights, WEIGHTS_FILE, type ModelFiles } from "./logistic-model.js";
import { parseModelMetrics, type ModelMetrics } from "./metrics.js";
import {
  IDENTITY_CALIBRATION,
  parseCalibrationRecord,
  type CalibrationRecord,
  type OutputCalibration,
} from "./output-calibration.js";
import {
  parseSiteCalibrationsFile,
  SITE_CALIBRATIONS_FILE,
  siteCalibrationsOf,
  type SiteCalibrations,
  type SiteCalibrationsFile,
} from "./served-answer.js";
import type { TfBackendName } from "./tf-backend.js";
import type { LogisticWeights } from "./trainer.js";

export const MANIFEST_FILE = "manifest.json";
export const PIPELINE_FILE = "pipeline.json";
export const METRICS_FILE = "metrics.json";
/** Optional: the site recalibration; an artifact without it serves the base model as trained. */
export const CALIBRATION_FILE = "calibration.json";
/** Every file a manifest must list (the manifest itself is not in its own list). */
export const ARTIFACT_CONTENT_FILES: readonly string[] = [
  MODEL_JSON_FILE,
  WEIGHTS_FILE,
  PIPELINE_FILE,
  METRICS_FILE,
];

/** Model versions are v1, v2, ...: the name is also the folder name, so nothing else is allowed. */
const VERSION_PATTERN = /^v[1-9][0-9]{0,8}$/;
/** Temporary folders: `.v3.tmp-<pid>-<random>`; readers and listings skip or refuse them. */
const TEMP_PATTERN = /^\.(.+)\.tmp-[0-9]+-[0-9a-f]+$/;

/** One file of an artifact, as written to disk or sent over gRPC. */
export interface ArtifactFile {
  readonly name: string;
  readonly content: Uint8Array;
}

/** A file with its sha256, as readArtifactFiles returns it. */
export interface HashedArtifactFile extends ArtifactFile {
  readonly sha256: string;
}

/** One manifest entry. */
export interface ArtifactFileEntry {
  readonly name: string;
  readonly size: number;
  readonly sha256: string;
}

/** Rows behind the model: how much data there was and where it went. */
export interface ArtifactRowCounts {
  /** Rows of the original dataset as loaded (duplicates included). */
  readonly originalRows: number;
  readonly uniqueRows: number;
  readonly duplicatesRemoved: number;
  /** Training rows: unique original rows outside the holdout plus feedback rows. */
  readonly trainRows: number;
  readonly holdoutRows: number;
  /** Labelled feedback rows used for training. */
  readonly feedbackRows: number;
  /** Feedback rows not used because their features are a holdout row's. */
  readonly feedbackRowsDropped: number;
}

/** Contents of manifest.json. */
export interface ArtifactManifest {
  readonly formatVersion: 1;
  readonly version: string;
  /** ISO 8601 time the model was trained. */
  readonly createdAt: string;
  readonly dataSource: DataSource;
  readonly tfBackend: TfBackendName;
  readonly rowCounts: ArtifactRowCounts;
  /** Fingerprint of the holdout the metrics were computed on; the gate compares like with like. */
  readonly holdoutFingerprint: string;
  /** How that holdout was cut; absent in artifacts from before the lab-profile split ("row-v1"). */
  readonly holdoutScheme?: string | undefined;
  readonly files: readonly ArtifactFileEntry[];
}

/** Everything an artifact holds, before it is turned into files. */
export interface ArtifactContents {
  readonly version: string;
  readonly createdAt: Date;
  readonly dataSource: DataSource;
  readonly tfBackend: TfBackendName;
  readonly rowCounts: ArtifactRowCounts;
  readonly holdoutFingerprint: string;
  readonly holdoutScheme: string;
  readonly model: ModelFiles;
  readonly pipeline: PipelineParams;
  readonly metrics: ModelMetrics;
  /** The site recalibration to serve with; omitted, the base model is served as trained. */
  readonly calibration?: CalibrationRecord | undefined;
  /** Every non-default site's calibration (site-calibrations.json); omitted: none. */
  readonly siteCalibrations?: SiteCalibrationsFile | undefined;
}

/** A verified artifact, ready to build a scorer from (createScorer(pipeline, weights)). */
export interface LoadedModel {
  readonly manifest: ArtifactManifest;
  readonly manifestSha256: string;
  readonly pipeline: PipelineParams;
  readonly metrics: ModelMetrics;
  readonly weights: LogisticWeights;
  readonly model: ModelFiles;
  /** What the scorer applies to the base log-odds (the identity when the artifact has none). */
  readonly calibration: OutputCalibration;
  /** calibration.json as stored, when the artifact has one. */
  readonly calibrationRecord?: CalibrationRecord | undefined;
  /** site-calibrations.json as stored, when the artifact has one. */
  readonly siteCalibrationsFile?: SiteCalibrationsFile | undefined;
  /** What each site is served with: `calibration` for the default site, the file's entries for others. */
  readonly siteCalibrations: SiteCalibrations;
}

/** Where writeArtifact put the version. */
export interface WrittenArtifact {
  readonly dir: string;
  readonly manifestSha256: string;
}

/** Lower-case hex SHA-256 of a file's bytes, as manifests and ArtifactFile.sha256 carry it. */
export function sha256Hex(content: Uint8Array): string {
  return createHash("sha256").update(content).digest("hex");
}

/** Throws unless `version` is a model version name (v1, v2, ...). */
export function checkVersionName(version: string): void {
  if (!VERSION_PATTERN.test(version)) {
    throw new Error(`model version "${version}" is invalid; expected v1, v2, ... (v followed by a number)`);
  }
}

/** True for the temporary folder names writeArtifact uses before the rename. */
export function isTemporaryArtifactName(name: string): boolean {
  return TEMP_PATTERN.test(name);
}

const encodeJson = (value: unknown): Uint8Array =>
  new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n");

/** The artifact as its files, manifest.json last. Pure: writing is a separate step. */
export function buildArtifactFiles(contents: ArtifactContents): ArtifactFile[] {
  checkVersionName(contents.version);
  const files: ArtifactFile[] = [
    { name: MODEL_JSON_FILE, content: contents.model.modelJson },
    { name: WEIGHTS_FILE, content: contents.model.weightsBin },
    { name: PIPELINE_FILE, content: encodeJson(contents.pipeline) },
    { name: METRICS_FILE, content: encodeJson(contents.metrics) },
  ];
  if (contents.calibration !== undefined) {
    files.push({ name: CALIBRATION_FILE, content: encodeJson(contents.calibration) });
  }
  if (contents.siteCalibrations !== undefined) {
    files.push({ name: SITE_CALIBRATIONS_FILE, content: encodeJson(contents.siteCalibrations) });
  }
  const manifest: ArtifactManifest = {
    formatVersion: 1,
    version: contents.version,
    createdAt: contents.createdAt.toISOString(),
    dataSource: contents.dataSource,
    tfBackend: contents.tfBackend,
    rowCounts: contents.rowCounts,
    holdoutFingerprint: contents.holdoutFingerprint,
    holdoutScheme: contents.holdoutScheme,
    files: files.map((f) => ({ name: f.name, size: f.content.byteLength, sha256: sha256Hex(f.content) })),
  };
  return [...files, { name: MANIFEST_FILE, content: encodeJson(manifest) }];
}

/** sha256 of manifest.json: the one hash that pins every file of the artifact. */
export function manifestSha256(files: readonly ArtifactFile[]): string {
  const manifest = files.find((f) => f.name === MANIFEST_FILE);
  if (manifest === undefined) throw new Error(`${MANIFEST_FILE} is missing: the artifact is incomplete`);
  return sha256Hex(manifest.content);
}

function checkFileName(name: string): void {
  if (
    name === "" ||
    name.startsWith(".") ||
    name.includes("/") ||
    name.includes("\\") ||
    name.includes("\0")
  ) {
    throw new Error(`artifact file name "${name}" is invalid; expected a plain file name`);
  }
}

/**
 * Writes `files` as `<parentDir>/<version>` atomically: a temporary sibling folder, each
 * file written and fsynced, the folder fsynced, renamed into place, the parent fsynced.
 * Refuses to replace an existing version (versions are immutable).
 */
export async function writeArtifact(
  parentDir: string,
  version: string,
  files: readonly ArtifactFile[],
): Promise<WrittenArtifact> {
  checkVersionName(version);
  for (const file of files) checkFileName(file.name);
  // Never put an artifact on disk that a reader would refuse.
  const { manifest, manifestSha256: sha } = verifyArtifactFiles(files);
  if (manifest.version !== version) {
    throw new Error(
      `${MANIFEST_FILE} names version ${manifest.version}; writing it as ${version} would mislabel it`,
    );
  }
  await mkdir(parentDir, { recursive: true });
  const dir = path.join(parentDir, version);
  if (await exists(dir))
    throw new Error(`model version ${version} already exists at ${dir}; versions are immutable`);
  const temp = path.join(parentDir, `.${version}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
  await mkdir(temp);
  try {
    // In parallel: the fsyncs overlap instead of queueing one disk flush after another.
    const written = await Promise.allSettled(
      files.map((file) => writeFileSynced(path.join(temp, file.name), file.content, { flag: "wx" })),
    );
    for (const result of written) if (result.status === "rejected") throw result.reason;
    await fsyncPath(temp);
    await rename(temp, dir);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  await fsyncPath(parentDir);
  return { dir, manifestSha256: sha };
}

async function exists(target: string): Promise<boolean> {
  try {
    await stat(target);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

/** Reads every entry of an artifact folder, refusing temporary folders and anything not a file. */
async function readFolder(dir: string): Promise<HashedArtifactFile[]> {
  const base = path.basename(path.resolve(dir));
  if (isTemporaryArtifactName(base)) {
    throw new Error(
      `${dir} is a temporary artifact folder (a write that never finished); it is not a model version`,
    );
  }
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new Error(`cannot read artifact folder ${dir}: ${(error as Error).message}`, { cause: error });
  }
  if (!entries.some((e) => e.name === MANIFEST_FILE)) {
    throw new Error(`${MANIFEST_FILE} is missing in ${dir}: the artifact is incomplete or half-written`);
  }
  const files: HashedArtifactFile[] = [];
  for (const entry of entries) {
    if (!entry.isFile())
      throw new Error(`${path.join(dir, entry.name)} is not a regular file; artifacts hold files only`);
    const content = new Uint8Array(await readFile(path.join(dir, entry.name)));
    files.push({ name: entry.name, content, sha256: sha256Hex(content) });
  }
  return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The verified files of an artifact folder with their sha256: what the Retrain service
 * sends in GetModelArtifact. Throws, naming the file, if the folder is not a complete,
 * unaltered artifact whose manifest names this folder's version.
 */
export async function readArtifactFiles(dir: string): Promise<HashedArtifactFile[]> {
  const files = await readFolder(dir);
  const loaded = verifyArtifactFiles(files);
  const folder = path.basename(path.resolve(dir));
  if (loaded.manifest.version !== folder) {
    throw new Error(`${MANIFEST_FILE} in ${dir} names version ${loaded.manifest.version}, not ${folder}`);
  }
  return files;
}

/** Reads and verifies an artifact folder into a model ready to serve. */
export async function readArtifactDir(dir: string): Promise<LoadedModel> {
  return verifyArtifactFiles(await readArtifactFiles(dir));
}

function parseJsonFile(file: ArtifactFile): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(file.content));
  } catch (error) {
    throw new Error(`${file.name} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

function parseManifest(json: unknown): ArtifactManifest {
  const bad = (what: string): never => {
    throw new Error(`${MANIFEST_FILE}: ${what}`);
  };
  if (typeof json !== "object" || json === null) return bad("expected a JSON object");
  const m = json as Record<string, unknown>;
  if (m["formatVersion"] !== 1) bad(`formatVersion is ${String(m["formatVersion"])}; expected 1`);
  const version = m["version"];
  if (typeof version !== "string" || !VERSION_PATTERN.test(version))
    bad(`version ${JSON.stringify(version)} is invalid`);
  const createdAt = m["createdAt"];
  if (typeof createdAt !== "string" || Number.isNaN(Date.parse(createdAt)))
    bad("createdAt must be an ISO 8601 time");
  const dataSource = m["dataSource"];
  if (dataSource !== "real" && dataSource !== "synthetic") bad(`dataSource must be "real" or "synthetic"`);
  const tfBackend = m["tfBackend"];
  if (tfBackend !== "tensorflow" && tfBackend !== "wasm" && tfBackend !== "cpu")
    bad("tfBackend is not a known backend");
  if (typeof m["holdoutFingerprint"] !== "string") bad("holdoutFingerprint must be a string");
  if (m["holdoutScheme"] !== undefined && typeof m["holdoutScheme"] !== "string")
    bad("holdoutScheme must be a string when present");
  const counts = m["rowCounts"];
  if (typeof counts !== "object" || counts === null) return bad("rowCounts must be an object");
  for (const key of [
    "originalRows",
    "uniqueRows",
    "duplicatesRemoved",
    "trainRows",
    "holdoutRows",
    "feedbackRows",
    "feedbackRowsDropped",
  ]) {
    const value = (counts as Record<string, unknown>)[key];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      bad(`rowCounts.${key} must be a whole number >= 0`);
    }
  }
  const files = m["files"];
  if (!Array.isArray(files)) return bad("files must be an array");
  for (const [i, entry] of files.entries()) {
    const e = entry as Record<string, unknown> | null;
    if (
      typeof e !== "object" ||
      e === null ||
      typeof e["name"] !== "string" ||
      typeof e["size"] !== "number" ||
      typeof e["sha256"] !== "string" ||
      !/^[0-9a-f]{64}$/.test(e["sha256"])
    ) {
      bad(`files[${i}] must have a name, a size and a sha256 (64 hex digits)`);
    }
  }
  return json as ArtifactManifest;
}

/**
 * Verifies an artifact given as files (from disk or from gRPC) and decodes it. With
 * `expectedManifestSha256`, the manifest must hash to it; then every listed file must be
 * present with its size and sha256, no file may be missing or extra, and the JSON and
 * weights must decode. Every failure names the file.
 */
export function verifyArtifactFiles(
  files: readonly ArtifactFile[],
  expectedManifestSha256?: string,
): LoadedModel {
  const byName = new Map<string, ArtifactFile>();
  for (const file of files) {
    if (byName.has(file.name)) throw new Error(`artifact lists ${file.name} twice`);
    byName.set(file.name, file);
  }
  const manifestFile = byName.get(MANIFEST_FILE);
  if (manifestFile === undefined)
    throw new Error(`${MANIFEST_FILE} is missing: the artifact is incomplete or half-written`);
  const sha = sha256Hex(manifestFile.content);
  if (expectedManifestSha256 !== undefined && sha !== expectedManifestSha256.toLowerCase()) {
    throw new Error(
      `${MANIFEST_FILE} has sha256 ${sha}; expected ${expectedManifestSha256} (altered or from another version)`,
    );
  }
  const manifest = parseManifest(parseJsonFile(manifestFile));
  const listed = new Set(manifest.files.map((f) => f.name));
  for (const required of ARTIFACT_CONTENT_FILES) {
    if (!listed.has(required)) throw new Error(`${MANIFEST_FILE} does not list ${required}`);
  }
  for (const entry of manifest.files) {
    const file = byName.get(entry.name);
    if (file === undefined)
      throw new Error(`${entry.name} is missing: listed in ${MANIFEST_FILE} but not in the artifact`);
    if (file.content.byteLength !== entry.size) {
      throw new Error(
        `${entry.name} is ${file.content.byteLength} bytes; ${MANIFEST_FILE} says ${entry.size} ` +
          `(${file.content.byteLength < entry.size ? "truncated" : "altered"})`,
      );
    }
    if (sha256Hex(file.content) !== entry.sha256) {
      throw new Error(`${entry.name} does not match its sha256 in ${MANIFEST_FILE}: the file was altered`);
    }
  }
  for (const name of byName.keys()) {
    if (name !== MANIFEST_FILE && !listed.has(name))
      throw new Error(`${name} is not listed in ${MANIFEST_FILE}: unexpected extra file`);
  }
  const get = (name: string): ArtifactFile => {
    const file = byName.get(name);
    if (file === undefined) throw new Error(`${name} is missing`);
    return file;
  };
  const model: ModelFiles = {
    modelJson: get(MODEL_JSON_FILE).content,
    weightsBin: get(WEIGHTS_FILE).content,
  };
  const calibrationFile = byName.get(CALIBRATION_FILE);
  const calibrationRecord =
    calibrationFile === undefined ? undefined : parseCalibrationRecord(parseJsonFile(calibrationFile));
  const siteFile = byName.get(SITE_CALIBRATIONS_FILE);
  const siteCalibrationsFile =
    siteFile === undefined ? undefined : parseSiteCalibrationsFile(parseJsonFile(siteFile));
  const calibration =
    calibrationRecord === undefined
      ? IDENTITY_CALIBRATION
      : { slope: calibrationRecord.slope, intercept: calibrationRecord.intercept };
  return {
    manifest,
    manifestSha256: sha,
    pipeline: parsePipelineParams(parseJsonFile(get(PIPELINE_FILE))),
    metrics: parseModelMetrics(parseJsonFile(get(METRICS_FILE))),
    weights: readModelWeights(model),
    model,
    calibration,
    calibrationRecord,
    siteCalibrationsFile,
    siteCalibrations: siteCalibrationsOf(calibration, siteCalibrationsFile),
  };
}
