import type { Reporter, TestModule } from "vitest/node";

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

const total = (counts: Counts): string =>
  `Tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`;

/** Worded differently from the total, so a reader of "N passed" finds only the total. */
const perProject = (name: string, counts: Counts): string =>
  `Project [${name}]: passed ${counts.passed}, failed ${counts.failed}, skipped ${counts.skipped}\n`;

/**
 * Ends a vitest run with one plain line, "Tests: N passed, N failed, N skipped", which CI
 * reads in any language; vitest's own summary is decorated and not recognised there. Before
 * it, one line per vitest project ("Project [tls]: passed N, failed N, skipped N").
 */
export default class PlainSummaryReporter implements Reporter {
  onTestRunEnd(testModules: readonly TestModule[], unhandledErrors: readonly unknown[]): void {
    const all: Counts = { passed: 0, failed: 0, skipped: 0 };
    const byProject = new Map<string, Counts>();
    for (const module of testModules) {
      const name = module.project.name;
      const project = byProject.get(name) ?? { passed: 0, failed: 0, skipped: 0 };
      byProject.set(name, project);
      const add = (state: keyof Counts): void => {
        project[state] += 1;
        all[state] += 1;
      };
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") add("passed");
        else if (state === "failed") add("failed");
        else add("skipped");
      }
      if (module.state() === "failed" && module.children.size === 0) add("failed");
    }
    all.failed += unhandledErrors.length;
    const projects = [...byProject]
      .filter(([name]) => name !== "")
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, counts]) => perProject(name, counts))
      .join("");
    process.stdout.write(`\n${projects}${total(all)}`);
  }
}
