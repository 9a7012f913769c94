/**
 * A service of this repository as a child process (`node --import tsx <entry>`), for tests
 * and benches that must kill it like a crash would (SIGKILL), start it again on the same
 * port and data, or measure it apart from the client's process. Its JSON log is parsed for
 * the line announcing the bound ports, and kept for failure messages.
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PREDICT_NODE_FLAGS } from "../predict-node-flags.js";
import { testTlsEnv } from "../../shared/testing/test-tls.js";

/** The repository root (this file is services/predict/testing/). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/**
 * Children not yet exited. When this process exits without having stopped one (a bench or a
 * test that failed half-way and called process.exit), it is killed rather than left running.
 */
const running = new Set<ChildProcess>();
let killOnExit = false;

function watch(child: ChildProcess): void {
  running.add(child);
  child.once("exit", () => running.delete(child));
  if (killOnExit) return;
  killOnExit = true;
  process.once("exit", () => {
    for (const left of running) left.kill("SIGKILL");
  });
}

/** What to start and how to tell it is ready. */
export interface ChildServiceSpec {
  /** Entry file relative to the repository root, e.g. "services/retrain/main.ts". */
  readonly entry: string;
  readonly env: Readonly<Record<string, string>>;
  /** The start of the log message that says the service listens; that line carries `port`. */
  readonly readyMessage: string;
  readonly timeoutMs?: number;
  /** Node/V8 flags before the entry, as the service's image runs it. */
  readonly nodeFlags?: readonly string[];
}

/** A running child service. */
export class ChildService {
  private constructor(
    private readonly child: ChildProcess,
    /** gRPC port from the ready line. */
    readonly port: number,
    /** Metrics port from the ready line, when it has one. */
    readonly metricsPort: number | undefined,
    private readonly log: string[],
    private readonly exited: Promise<number | null>,
  ) {}

  /** Starts the child and resolves once it logged readiness; rejects with its output otherwise. */
  static async start(spec: ChildServiceSpec): Promise<ChildService> {
    const timeoutMs = spec.timeoutMs ?? 60_000;
    const args = [...(spec.nodeFlags ?? []), "--import", "tsx", path.join(REPO_ROOT, spec.entry)];
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      // The ready line is logged at info: a quieter LOG_LEVEL would hide it.
      env: { ...process.env, ...spec.env, LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    watch(child);
    const log: string[] = [];
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const ports = await new Promise<{ port: number; metricsPort: number | undefined }>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`${spec.entry} was not ready within ${timeoutMs} ms:\n${log.join("\n")}`));
      }, timeoutMs);
      let pending = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        pending += chunk;
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) {
          if (log.length < 5_000) log.push(line);
          const ready = readyPorts(line, spec.readyMessage);
          if (ready !== undefined) {
            clearTimeout(timer);
            resolve(ready);
          }
        }
      });
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => log.push(chunk));
      void exited.then((code) => {
        clearTimeout(timer);
        reject(
          new Error(`${spec.entry} exited with ${String(code)} before it was ready:\n${log.join("\n")}`),
        );
      });
    });
    return new ChildService(child, ports.port, ports.metricsPort, log, exited);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** What it logged so far (the first 5,000 lines). */
  output(): string {
    return this.log.join("\n");
  }

  /** SIGKILL: no goodbye to open streams, like a crash or an OOM kill. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGKILL");
    await this.exited;
  }

  /** SIGTERM, and the exit code once it exited. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.kill("SIGTERM");
    return this.exited;
  }
}

function readyPorts(
  line: string,
  readyMessage: string,
): { port: number; metricsPort: number | undefined } | undefined {
  if (!line.includes(readyMessage)) return undefined;
  try {
    const parsed = JSON.parse(line) as { port?: unknown; metricsPort?: unknown; msg?: unknown };
    if (typeof parsed.msg !== "string" || !parsed.msg.startsWith(readyMessage)) return undefined;
    if (typeof parsed.port !== "number") return undefined;
    return {
      port: parsed.port,
      metricsPort: typeof parsed.metricsPort === "number" ? parsed.metricsPort : undefined,
    };
  } catch {
    return undefined;
  }
}

/**
 * Starts the RetrainService (services/retrain/main.ts) on 127.0.0.1 with `env` (and, in the
 * "tls" vitest project, the test PKI's TLS_* settings unless `env` names its own).
 */
export function startRetrainProcess(env: Readonly<Record<string, string>>): Promise<ChildService> {
  return ChildService.start({
    entry: "services/retrain/main.ts",
    env: { RETRAIN_HOST: "127.0.0.1", ...testTlsEnv(), ...env },
    readyMessage: "RetrainService listening",
  });
}

/** Starts a PredictService replica (services/predict/main.ts) on 127.0.0.1 with `env` (TLS as above). */
export function startPredictProcess(env: Readonly<Record<string, string>>): Promise<ChildService> {
  return ChildService.start({
    entry: "services/predict/main.ts",
    env: {
      PREDICT_HOST: "127.0.0.1",
      PREDICT_PORT: "0",
      PREDICT_METRICS_PORT: "0",
      ...testTlsEnv(),
      ...env,
    },
    readyMessage: "PredictService listening",
    nodeFlags: PREDICT_NODE_FLAGS,
  });
}
