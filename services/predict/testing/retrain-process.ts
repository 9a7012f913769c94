/**
 * The real RetrainService as a child process (`node --import tsx services/retrain/main.ts`),
 * for tests and benches that must kill it like a crash would (SIGKILL) and start it again
 * on the same port and data. Its JSON log is parsed for the bound port and kept for
 * failure messages.
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file is services/predict/testing/). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** A running Retrain child. */
export class RetrainProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly log: string[],
    private readonly exited: Promise<number | null>,
  ) {}

  /**
   * Starts Retrain with `env` (RETRAIN_PORT 0 picks a free port) and resolves once it
   * listens; rejects with its output if it exits or does not listen within timeoutMs.
   */
  static async start(env: Record<string, string>, timeoutMs = 60_000): Promise<RetrainProcess> {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", path.join(REPO_ROOT, "services/retrain/main.ts")],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, RETRAIN_HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const log: string[] = [];
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`RetrainService did not listen within ${timeoutMs} ms:\n${log.join("\n")}`));
      }, timeoutMs);
      let pending = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        pending += chunk;
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) {
          log.push(line);
          const port = listeningPort(line);
          if (port !== undefined) {
            clearTimeout(timer);
            resolve(port);
          }
        }
      });
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => log.push(chunk));
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`RetrainService exited with ${String(code)} before listening:\n${log.join("\n")}`));
      });
    });
    return new RetrainProcess(child, port, log, exited);
  }

  /** Everything it logged so far. */
  output(): string {
    return this.log.join("\n");
  }

  /** SIGKILL: no goodbye to the streams, like a crash or an OOM kill. */
  async kill(): Promise<void> {
    this.child.kill("SIGKILL");
    await this.exited;
  }

  /** SIGTERM and wait for the exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    await this.exited;
  }
}

function listeningPort(line: string): number | undefined {
  if (!line.includes("RetrainService listening")) return undefined;
  try {
    const parsed = JSON.parse(line) as { port?: unknown };
    return typeof parsed.port === "number" ? parsed.port : undefined;
  } catch {
    return undefined;
  }
}
