import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

/** One child of the local system. */
export interface ChildSpec {
  /** Prefix of its log lines, e.g. "predict-0". */
  readonly name: string;
  /** A TypeScript or JavaScript entry file, run with Node (TypeScript through tsx). */
  readonly entry: string;
  readonly env: NodeJS.ProcessEnv;
  readonly args?: readonly string[];
  /** Node/V8 flags before the entry. */
  readonly nodeFlags?: readonly string[];
}

/**
 * Runs the processes of the local system side by side with one log stream, each line
 * prefixed by its process name; stops them together (SIGTERM, then SIGKILL after a grace
 * period) and reports the first one that dies on its own, since the system is then broken.
 */
export class ProcessGroup {
  private readonly children = new Map<string, ChildProcess>();
  private stopping = false;
  private readonly width: number;

  constructor(
    names: readonly string[],
    private readonly onUnexpectedExit: (
      name: string,
      code: number | null,
      signal: NodeJS.Signals | null,
    ) => void,
    private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  ) {
    this.width = Math.max(...names.map((name) => name.length), 7);
  }

  /** Starts a child and pipes its output, prefixed. */
  start(spec: ChildSpec): ChildProcess {
    const execArgv = spec.entry.endsWith(".ts") ? ["--import", "tsx"] : [];
    const child = spawn(
      process.execPath,
      [...(spec.nodeFlags ?? []), ...execArgv, spec.entry, ...(spec.args ?? [])],
      {
        env: spec.env,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    this.children.set(spec.name, child);
    const prefix = `[${spec.name.padEnd(this.width)}]`;
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on("line", (line) => this.write(`${prefix} ${line}`));
    }
    child.on("exit", (code, signal) => {
      this.children.delete(spec.name);
      if (!this.stopping) this.onUnexpectedExit(spec.name, code, signal);
    });
    return child;
  }

  /** SIGTERM to every child; SIGKILL to those still running after graceMs. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const running = [...this.children.values()];
    await Promise.all(
      running.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) {
              resolve();
              return;
            }
            const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
            child.once("exit", () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill("SIGTERM");
          }),
      ),
    );
  }
}
