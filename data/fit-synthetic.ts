/**
 * Fits the synthetic default dataset's parameters to a real LPD CSV and writes them as JSON
 * (data/synthetic-params.json, committed), so machines without the real file still train on
 * data with the real file's class balance, scales and correlations.
 *
 *   npm run fit-synthetic -- --data "<path to LPD csv>" [--out data/synthetic-params.json]
 */
import { createHash } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { basename, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DatasetFormatError } from "../services/shared/data/dataset-format-error.js";
import { formatLoadReport } from "../services/shared/data/load-report.js";
import { loadLpdCsv } from "../services/shared/data/lpd-csv-loader.js";
import { fitSyntheticParams, type SyntheticParams } from "../services/shared/data/synthetic-params.js";

const DEFAULT_OUT = fileURLToPath(new URL("./synthetic-params.json", import.meta.url));

const USAGE = `Usage: npm run fit-synthetic -- --data <csv> [--out <json>]

Fits the synthetic default dataset to a real Liver Patient Dataset (LPD) CSV: class prior,
per class the share of men and a multivariate normal over the numeric features (log1p
space for bilirubins and enzymes), on the distinct complete rows.

Options:
  --data <csv>   the LPD CSV, for example "data/raw/Liver Patient Dataset (LPD)_train.csv"
  --out <json>   where to write the parameters (default: ${relative(process.cwd(), DEFAULT_OUT)})
  --help         show this text
`;

class UsageError extends Error {}

function parseCommandLine(argv: string[]): { data: string; out: string } | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        data: { type: "string" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) return "help";
  if (values.data === undefined || values.data === "") throw new UsageError("--data <csv> is required");
  return { data: values.data, out: values.out ?? DEFAULT_OUT };
}

/** JSON as Prettier would write it (the repo checks formatting); plain JSON when Prettier is absent. */
async function toJson(params: SyntheticParams, out: string): Promise<string> {
  const text = JSON.stringify(params, null, 2) + "\n";
  try {
    const prettier = await import("prettier");
    const config = (await prettier.resolveConfig(out)) ?? {};
    return await prettier.format(text, { ...config, parser: "json" });
  } catch {
    return text;
  }
}

async function main(argv: string[]): Promise<number> {
  const args = parseCommandLine(argv);
  if (args === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  const { dataset, report } = await loadLpdCsv(args.data);
  process.stdout.write(formatLoadReport(report) + "\n");
  const bytes = await readFile(args.data);
  const params = fitSyntheticParams(dataset, {
    file: basename(args.data),
    sha256: createHash("sha256").update(bytes).digest("hex"),
    bytes: bytes.length,
    rowsRead: report.rowsRead,
    completeRows: report.rowsKept,
    fittedAt: new Date().toISOString(),
  });
  const out = resolve(args.out);
  const temporary = `${out}.${process.pid}.tmp`;
  await writeFile(temporary, await toJson(params, out));
  await rename(temporary, out);
  const { liverDisease, noLiverDisease } = params.classes;
  process.stdout.write(
    `Fitted on ${params.fittedOn.uniqueCompleteRows} distinct complete rows ` +
      `(liver disease ${liverDisease.rows}, none ${noLiverDisease.rows}; prior ${liverDisease.prior.toFixed(4)}).\n` +
      `Wrote ${out}\n`,
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`fit-synthetic: ${error.message}\n\n${USAGE}`);
      process.exitCode = 2;
    } else if (error instanceof DatasetFormatError) {
      process.stderr.write(`fit-synthetic: ${error.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`fit-synthetic: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  },
);
