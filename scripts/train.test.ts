import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readArtifactDir } from "../services/shared/model/model-artifact.js";
import { HELP, nextVersion, runTrainCli } from "./train.js";
import { REAL_CSV_PATH, haveRealCsv } from "../services/shared/testing/real-dataset.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function capture(): { log: (l: string) => void; error: (l: string) => void; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, log: (l) => out.push(l), error: (l) => err.push(l) };
}

describe("npm run train", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "train-cli-"));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("documents every flag in --help", async () => {
    const io = capture();
    expect(await runTrainCli(["--help"], io)).toBe(0);
    const help = io.out.join("\n");
    for (const flag of [
      "--data",
      "--synthetic",
      "--out",
      "--version",
      "--seed",
      "--holdout",
      "--l1",
      "--max-iterations",
      "--help",
    ]) {
      expect(help).toContain(flag);
    }
    expect(help).toBe(HELP);
  });

  it.each([
    [[], /exactly one of --data <csv> or --synthetic <rows>/],
    [["--data", "a.csv", "--synthetic", "10"], /exactly one of/],
    [
      ["--synthetic", "ten"],
      /--synthetic "ten" is not valid: expected a whole number of rows from 1 to 10000000/,
    ],
    [["--synthetic", "0"], /--synthetic "0" is not valid/],
    [
      ["--synthetic", "100", "--holdout", "1"],
      /--holdout "1" is not valid: expected a fraction between 0 and 1/,
    ],
    [["--synthetic", "100", "--version", "7"], /--version: model version "7" is invalid/],
    [["--data", "a.csv", "--seed", "2"], /--seed only applies to --synthetic/],
    [["--synthetic", "100", "--bogus"], /Unknown option '--bogus'/],
  ])("rejects bad flags %j with exit code 2", async (argv, message) => {
    const io = capture();
    expect(await runTrainCli(argv, io, {})).toBe(2);
    expect(io.err.join("\n")).toMatch(message);
    expect(io.err.join("\n")).toContain("--help");
  });

  it("fails with exit code 1 and the path when the CSV is missing", async () => {
    const io = capture();
    const missing = path.join(root, "nope.csv");
    expect(await runTrainCli(["--data", missing, "--out", root], io, {})).toBe(1);
    expect(io.err.join("\n")).toContain(`CSV file not found: ${missing}`);
  });

  it("trains on synthetic rows and writes the next version, printing metrics, backend and stage times", async () => {
    const out = path.join(root, "models");
    await mkdir(path.join(out, "v4"), { recursive: true });
    expect(await nextVersion(out)).toBe("v5");
    const io = capture();
    expect(await runTrainCli(["--synthetic", "3000", "--seed", "2", "--out", out], io, {})).toBe(0);
    const text = io.out.join("\n");
    expect(text).toMatch(/Generated 3,000 synthetic rows \(seed 2\)/);
    expect(text).toMatch(/TensorFlow.js backend: wasm \(skipped tensorflow: could not load/);
    expect(text).toMatch(/Holdout \(600 rows\): ROC AUC 0\.\d{4}, accuracy 0\.\d{4}, log loss 0\.\d{4}/);
    expect(text).toMatch(
      /Time \(ms\): load [\d.]+, split [\d.]+, fit pipeline [\d.]+, train [\d.]+, evaluate [\d.]+/,
    );
    const loaded = await readArtifactDir(path.join(out, "v5"));
    expect(loaded.manifest.dataSource).toBe("synthetic");
    expect(text).toContain(loaded.manifestSha256);
  });

  it("refuses to overwrite an existing version", async () => {
    const out = path.join(root, "again");
    expect(await runTrainCli(["--synthetic", "500", "--out", out, "--version", "v2"], capture(), {})).toBe(0);
    const io = capture();
    expect(await runTrainCli(["--synthetic", "500", "--out", out, "--version", "v2"], io, {})).toBe(1);
    expect(io.err.join("\n")).toMatch(/model version v2 already exists/);
  });

  it("exits non-zero from the real command line on a bad flag", () => {
    const run = spawnSync(process.execPath, ["--import", "tsx", "scripts/train.ts", "--synthetic", "1e99"], {
      cwd: repo,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/--synthetic "1e99" is not valid/);
  });

  it.skipIf(!haveRealCsv)("prints the load report for the real file", async () => {
    const io = capture();
    expect(await runTrainCli(["--data", REAL_CSV_PATH, "--out", path.join(root, "real")], io, {})).toBe(0);
    const text = io.out.join("\n");
    expect(text).toMatch(/rows: 30,691 read, 27,158 kept, 3,533 dropped/);
    expect(text).toMatch(/662 lab profiles; train 13,041, holdout 3,348 rows of 133 whole profiles/);
    expect(text).toMatch(/Artifact v1: /);
  });
});
