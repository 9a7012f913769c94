/**
 * The benchmark harness behind `npm run bench`: each figure is measured several times and
 * printed as median and spread; a figure with a baseline (measured in the same run) also
 * prints the ratio, so a slower machine moves both and the ratio stays meaningful.
 */

/** Summary of repeated measurements of one figure. */
export interface FigureSummary {
  readonly name: string;
  readonly unit: string;
  readonly samples: readonly number[];
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Target in words, e.g. "<= 300 ms", printed beside the figure. */
  readonly target?: string;
  readonly met?: boolean;
}

/** What a section can ask the harness for. */
export interface BenchContext {
  /** How many times to repeat a figure (smaller with --quick). */
  readonly runs: number;
  readonly quick: boolean;
  /** Records a figure from samples taken by the section. */
  record(figure: Omit<FigureSummary, "median" | "min" | "max">): FigureSummary;
  /** Times `fn` `runs` times (after one warm-up) and records milliseconds. */
  time(
    name: string,
    fn: () => Promise<void> | void,
    options?: { runs?: number; target?: TargetCheck },
  ): Promise<FigureSummary>;
  /** Prints a ratio of two figures measured in the same run. */
  ratio(name: string, value: FigureSummary, baseline: FigureSummary, target?: TargetCheck): number;
  /** Prints a line of context. */
  note(text: string): void;
}

/** A target: a comparison and a bound, e.g. { op: "<=", bound: 300, text: "<= 300 ms" }. */
export interface TargetCheck {
  readonly op: "<=" | ">=";
  readonly bound: number;
  readonly text: string;
}

/** A bench section: a titled group of figures. */
export interface BenchSection {
  readonly title: string;
  run(context: BenchContext): Promise<void>;
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** The q-quantile (0..1) of a list, nearest-rank. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString("en-US");
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 0.01) return value.toFixed(3);
  return value.toExponential(2);
}

function checkTarget(value: number, target: TargetCheck | undefined): boolean | undefined {
  if (target === undefined) return undefined;
  return target.op === "<=" ? value <= target.bound : value >= target.bound;
}

/** Collects figures and prints them as they come; `summary()` lists targets missed. */
export class BenchReport implements BenchContext {
  readonly figures: FigureSummary[] = [];
  readonly ratios: { name: string; value: number; target?: string; met?: boolean }[] = [];

  constructor(
    readonly runs: number,
    readonly quick: boolean,
    private readonly print: (line: string) => void = (line) => console.log(line),
  ) {}

  record(figure: Omit<FigureSummary, "median" | "min" | "max">): FigureSummary {
    const summary: FigureSummary = {
      ...figure,
      median: median(figure.samples),
      min: Math.min(...figure.samples),
      max: Math.max(...figure.samples),
    };
    this.figures.push(summary);
    const target =
      summary.target === undefined
        ? ""
        : `   target ${summary.target}: ${summary.met === false ? "MISSED" : "met"}`;
    this.print(
      `  ${summary.name.padEnd(58)} median ${formatNumber(summary.median).padStart(10)} ${summary.unit.padEnd(10)} (min ${formatNumber(summary.min)}, max ${formatNumber(summary.max)}, n=${summary.samples.length})${target}`,
    );
    return summary;
  }

  async time(
    name: string,
    fn: () => Promise<void> | void,
    options: { runs?: number; target?: TargetCheck } = {},
  ): Promise<FigureSummary> {
    await fn();
    const samples: number[] = [];
    for (let i = 0; i < (options.runs ?? this.runs); i++) {
      const start = performance.now();
      await fn();
      samples.push(performance.now() - start);
    }
    const value = median(samples);
    return this.record({
      name,
      unit: "ms",
      samples,
      ...(options.target ? { target: options.target.text, met: checkTarget(value, options.target) } : {}),
    });
  }

  ratio(name: string, value: FigureSummary, baseline: FigureSummary, target?: TargetCheck): number {
    const ratio = value.median / baseline.median;
    const met = checkTarget(ratio, target);
    this.ratios.push({ name, value: ratio, ...(target ? { target: target.text, met } : {}) });
    const suffix =
      target === undefined ? "" : `   target ${target.text}: ${met === false ? "MISSED" : "met"}`;
    this.print(
      `  ${`ratio: ${name}`.padEnd(58)} ${ratio.toFixed(3).padStart(17)}            (${value.name} / ${baseline.name})${suffix}`,
    );
    return ratio;
  }

  note(text: string): void {
    this.print(`  ${text}`);
  }

  /** Lines naming every missed target, empty when all were met. */
  missedTargets(): string[] {
    return [
      ...this.figures
        .filter((f) => f.met === false)
        .map((f) => `${f.name}: ${formatNumber(f.median)} ${f.unit}, target ${f.target ?? ""}`),
      ...this.ratios
        .filter((r) => r.met === false)
        .map((r) => `${r.name}: ${r.value.toFixed(3)}, target ${r.target ?? ""}`),
    ];
  }
}
