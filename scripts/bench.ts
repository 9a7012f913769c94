/**
 * `npm run bench`: runs every section in scripts/bench/*-bench.ts (each exports
 * `section: BenchSection` and `order: number`), prints each figure as median and spread,
 * ratios against baselines measured in the same run, and which targets were missed.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { BenchReport, type BenchSection } from "./bench/bench-harness.js";

const HELP = `Usage: npm run bench -- [options]

Measures training, feedback, prediction and gateway figures on this machine and prints
each as median (min, max) over several runs, with ratios against baselines measured in
the same run and the issue targets they are held to.

Options:
  --quick            fewer runs and smaller sizes (a smoke run, figures are rough)
  --runs N           repetitions per figure (default 5, quick 2)
  --only NAME[,..]   run only sections whose file name contains NAME (e.g. training,predict)
  --list             list the sections and exit
  -h, --help         show this help

The real dataset is read from ../shared/data/ or TRAINING_CSV when present; sections that
need it say so and skip otherwise.`;

interface SectionModule {
  readonly section: BenchSection;
  readonly order: number;
}

async function loadSections(only: readonly string[]): Promise<{ file: string; module: SectionModule }[]> {
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "bench");
  const files = readdirSync(dir)
    .filter((name) => /-bench\.ts$/.test(name))
    .filter((name) => only.length === 0 || only.some((part) => name.includes(part)));
  const loaded = await Promise.all(
    files.map(async (file) => ({
      file,
      module: (await import(pathToFileURL(path.join(dir, file)).href)) as SectionModule,
    })),
  );
  return loaded.sort((a, b) => a.module.order - b.module.order);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      runs: { type: "string" },
      only: { type: "string" },
      list: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const runs = values.runs === undefined ? (values.quick ? 2 : 5) : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) {
    console.error(`--runs ${values.runs ?? ""} is not valid: expected a whole number from 1 to 100`);
    return 2;
  }
  const only = (values.only ?? "").split(",").filter((part) => part !== "");
  const sections = await loadSections(only);
  if (values.list) {
    for (const { file, module } of sections) console.log(`${file}: ${module.section.title}`);
    return 0;
  }
  if (sections.length === 0) {
    console.error(`no bench section matches --only ${values.only ?? ""}; try --list`);
    return 2;
  }
  const report = new BenchReport(runs, values.quick);
  console.log(`bench: node ${process.version}, ${runs} runs per figure${values.quick ? " (quick)" : ""}`);
  for (const { module } of sections) {
    console.log(`\n## ${module.section.title}`);
    const started = performance.now();
    await module.section.run(report);
    console.log(`  (section took ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  const missed = report.missedTargets();
  console.log(
    `\n## Targets\n  ${missed.length === 0 ? "all targets met" : `missed:\n  - ${missed.join("\n  - ")}`}`,
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
