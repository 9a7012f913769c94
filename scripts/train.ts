/**
 * `npm run train`: trains one model version from the real LPD CSV or synthetic rows with
 * the same pipeline the Retrain service runs, writes the artifact folder, and prints the
 * load report, the split, the backend, the holdout metrics and the time of every stage.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { Dataset } from "../services/shared/data/dataset.js";
import { formatLoadReport } from "../services/shared/data/load-report.js";
import { loadLpdCsv } from "../services/shared/data/lpd-csv-loader.js";
import { generateSyntheticDataset } from "../services/shared/data/synthetic-dataset.js";
import { DEFAULT_HOLDOUT_FRACTION } from "../services/shared/model/holdout-split.js";
import { checkVersionName, isTemporaryArtifactName } from "../services/shared/model/model-artifact.js";
import { getTfBackend } from "../services/shared/model/tf-backend.js";
import { DEFAULT_L1, DEFAULT_MAX_ITERATIONS } from "../services/shared/model/trainer.js";
import {
  runTrainingPipeline,
  type TrainingPipelineResult,
} from "../services/shared/model/training-pipeline.js";

export const HELP = `Usage: npm run train -- (--data <csv> | --synthetic <rows>) [options]

Trains an L1-regularized logistic regression (TensorFlow.js) on the original data, with
bilirubin, ALP, ALT and AST held to raise and albumin and the A/G ratio to lower the
estimate (README: A clinically plausible model), holds out a frozen, deduplicated,
stratified slice to evaluate it, and writes the model artifact <out>/<version>/
(model.json, weights.bin, pipeline.json, metrics.json, manifest.json).

Data (exactly one):
  --data <csv>          the LPD CSV (latin-1 or UTF-8, the published header), e.g.
                        "data/raw/Liver Patient Dataset (LPD)_train.csv"
  --synthetic <rows>    generate <rows> synthetic rows (1 to 10000000) from the fitted default

Options:
  --out <dir>           parent folder of the artifact (default: $MODEL_PATH, else models/)
  --version <vN>        version name (default: one above the highest vN already in --out)
  --seed <n>            seed of the synthetic generator (default 1; only with --synthetic)
  --holdout <fraction>  share of each class's unique rows held out (default ${DEFAULT_HOLDOUT_FRACTION}, 0 < f < 1)
  --l1 <strength>       L1 penalty on the mean log loss (default ${DEFAULT_L1}, >= 0)
  --max-iterations <n>  most Newton passes over the data (default ${DEFAULT_MAX_ITERATIONS})
  -h, --help            show this help

Exit code 0 on success, 2 for bad flags, 1 when loading, training or writing fails.`;

/** Where the CLI prints: injectable so tests can read it. */
export interface CliOutput {
  log(line: string): void;
  error(line: string): void;
}

/** A flag problem: printed with a pointer to --help, exit code 2. */
class UsageError extends Error {}

interface TrainCliOptions {
  data?: string | undefined;
  synthetic?: number | undefined;
  out: string;
  version?: string | undefined;
  seed: number;
  holdout: number;
  l1: number;
  maxIterations: number;
}

function parseNumberFlag(
  name: string,
  raw: string | undefined,
  fallback: number,
  check: (n: number) => boolean,
  range: string,
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || !check(value)) {
    throw new UsageError(`--${name} ${JSON.stringify(raw)} is not valid: expected ${range}`);
  }
  return value;
}

function parseFlags(argv: readonly string[], env: NodeJS.ProcessEnv): TrainCliOptions | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        data: { type: "string" },
        synthetic: { type: "string" },
        out: { type: "string" },
        version: { type: "string" },
        seed: { type: "string" },
        holdout: { type: "string" },
        l1: { type: "string" },
        "max-iterations": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return "help";
  if ((values.data === undefined) === (values.synthetic === undefined)) {
    throw new UsageError("give exactly one of --data <csv> or --synthetic <rows>");
  }
  const synthetic =
    values.synthetic === undefined
      ? undefined
      : parseNumberFlag(
          "synthetic",
          values.synthetic,
          0,
          (n) => Number.isInteger(n) && n >= 1 && n <= 10_000_000,
          "a whole number of rows from 1 to 10000000",
        );
  if (values.seed !== undefined && synthetic === undefined)
    throw new UsageError("--seed only applies to --synthetic");
  if (values.version !== undefined) {
    try {
      checkVersionName(values.version);
    } catch (error) {
      throw new UsageError(`--version: ${(error as Error).message}`);
    }
  }
  return {
    data: values.data,
    synthetic,
    out: values.out ?? (env["MODEL_PATH"]?.trim() || "models"),
    version: values.version,
    seed: parseNumberFlag(
      "seed",
      values.seed,
      1,
      (n) => Number.isSafeInteger(n) && n >= 0,
      "a whole number >= 0",
    ),
    holdout: parseNumberFlag(
      "holdout",
      values.holdout,
      DEFAULT_HOLDOUT_FRACTION,
      (n) => n > 0 && n < 1,
      "a fraction between 0 and 1 (exclusive)",
    ),
    l1: parseNumberFlag("l1", values.l1, DEFAULT_L1, (n) => n >= 0, "a number >= 0"),
    maxIterations: parseNumberFlag(
      "max-iterations",
      values["max-iterations"],
      DEFAULT_MAX_ITERATIONS,
      (n) => Number.isInteger(n) && n >= 1 && n <= 10_000,
      "a whole number from 1 to 10000",
    ),
  };
}

/** One above the highest vN folder in `dir` (v1 when there is none or `dir` does not exist yet). */
export async function nextVersion(dir: string): Promise<string> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "v1";
    throw error;
  }
  let highest = 0;
  for (const name of names) {
    if (isTemporaryArtifactName(name)) continue;
    const match = /^v([1-9][0-9]*)$/.exec(name);
    if (match?.[1] !== undefined) highest = Math.max(highest, Number(match[1]));
  }
  return `v${highest + 1}`;
}

const ms = (value: number): string => value.toFixed(1);
const int = (value: number): string => value.toLocaleString("en-US");

function report(result: TrainingPipelineResult, loadMs: number, out: CliOutput): void {
  const { split, metrics, timingsMs: t } = result;
  out.log(
    `Split: ${int(split.inputRows)} rows -> ${int(split.uniqueRows)} unique ` +
      `(${int(split.duplicatesRemoved)} exact duplicates removed, ${int(split.conflictingFeatureGroups)} feature vectors with both labels); ` +
      `${int(split.labProfiles)} lab profiles; train ${int(result.rowCounts.trainRows)}, ` +
      `holdout ${int(split.holdoutRows)} rows of ${int(split.holdoutLabProfiles)} whole profiles ` +
      `(${int(split.holdoutPositives)} liver disease; ${split.holdoutScheme}), holdout fingerprint ${split.holdoutFingerprint.slice(0, 12)}`,
  );
  const skipped = result.skippedBackends.map((s) => `${s.name}: ${s.reason}`).join("; ");
  out.log(`TensorFlow.js backend: ${result.backend}${skipped === "" ? "" : ` (skipped ${skipped})`}`);
  const fit = metrics.training;
  out.log(
    `Training: ${fit.iterations} Newton passes, ${fit.converged ? "converged" : "NOT converged (hit --max-iterations)"}; ` +
      `train log loss ${fit.loss.toFixed(4)}, L1 ${fit.l1}, ${fit.zeroWeights} of 10 weights zero`,
  );
  const h = metrics.holdout;
  const c = h.confusion;
  out.log(
    `Holdout (${int(h.rows)} rows): ROC AUC ${h.rocAuc.toFixed(4)}, accuracy ${h.accuracy.toFixed(4)}, ` +
      `log loss ${h.logLoss.toFixed(4)}, Brier ${h.brier.toFixed(4)}; at p >= ${h.threshold}: ` +
      `TP ${c.truePositives}, FP ${c.falsePositives}, TN ${c.trueNegatives}, FN ${c.falseNegatives}`,
  );
  if (result.artifact !== undefined) {
    out.log(
      `Artifact ${result.artifact.version}: ${result.artifact.dir ?? "(not written)"} ` +
        `(manifest sha256 ${result.artifact.manifestSha256})`,
    );
  }
  out.log(
    `Time (ms): load ${ms(loadMs)}, split ${ms(t.split)}, fit pipeline ${ms(t.fitPipeline)}, train ${ms(t.train)}, ` +
      `evaluate ${ms(t.evaluate)}, build artifact ${ms(t.buildArtifact)}, write artifact ${ms(t.writeArtifact)}; ` +
      `total ${ms(loadMs + t.total)}`,
  );
}

/** Runs the CLI with `argv` (flags only); resolves to the exit code. */
export async function runTrainCli(
  argv: readonly string[],
  out: CliOutput = { log: (l) => console.log(l), error: (l) => console.error(l) },
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  let options: TrainCliOptions | "help";
  try {
    options = parseFlags(argv, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    out.error(`train: ${error.message}\nRun "npm run train -- --help" for the flags.`);
    return 2;
  }
  if (options === "help") {
    out.log(HELP);
    return 0;
  }
  try {
    const started = performance.now();
    let original: Dataset;
    if (options.data !== undefined) {
      const loaded = await loadLpdCsv(options.data);
      original = loaded.dataset;
      out.log(formatLoadReport(loaded.report));
    } else {
      const rows = options.synthetic ?? 0;
      original = generateSyntheticDataset(rows, options.seed);
      out.log(`Generated ${int(rows)} synthetic rows (seed ${options.seed})`);
    }
    const loadMs = performance.now() - started;
    const backend = await getTfBackend({ info: () => undefined });
    const version = options.version ?? (await nextVersion(options.out));
    const result = await runTrainingPipeline({
      original,
      backend,
      holdoutFraction: options.holdout,
      trainer: { l1: options.l1, maxIterations: options.maxIterations },
      artifact: { version, parentDir: path.resolve(options.out) },
    });
    report(result, loadMs, out);
    return 0;
  } catch (error) {
    out.error(`train: ${(error as Error).message}`);
    return 1;
  }
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (invokedDirectly) {
  process.exitCode = await runTrainCli(process.argv.slice(2));
}
