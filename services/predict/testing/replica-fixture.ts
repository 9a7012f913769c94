/**
 * Starts PredictService replicas for tests and benches: real servers on 127.0.0.1:0, a real
 * temp folder per replica for the cache, a fixed signing key, fast reconnects, silent logs;
 * in the "tls" vitest project, mTLS both ways (services/shared/testing/test-tls.ts).
 * Everything started is stopped by `close()`.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino, type Logger } from "pino";
import type { PredictConfig } from "../predict-config.js";
import { type PredictServer, startPredictServer } from "../predict-server.js";
import { testServerTls } from "../../shared/testing/test-tls.js";
import { PredictTestClient } from "./predict-clients.js";

/** A started replica and a client connected to it. */
export interface TestReplica {
  readonly server: PredictServer;
  readonly client: PredictTestClient;
  readonly config: PredictConfig;
}

/** Owns temp folders, replicas and clients; close() releases all of them. */
export class ReplicaFixture {
  readonly signingKey = randomBytes(32);
  private readonly cleanups: (() => Promise<void> | void)[] = [];

  constructor(readonly logger: Logger = pino({ level: process.env["TEST_LOG_LEVEL"] ?? "silent" })) {}

  /** A fresh temp folder, removed on close. */
  async tempDir(prefix = "predict-test-"): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), prefix));
    this.cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  /** The settings of a test replica; anything can be overridden. */
  async config(retrainAddr: string, overrides: Partial<PredictConfig> = {}): Promise<PredictConfig> {
    return {
      host: "127.0.0.1",
      port: 0,
      metricsPort: 0,
      retrainAddr,
      signingKey: this.signingKey,
      modelCachePath: overrides.modelCachePath ?? (await this.tempDir("predict-cache-")),
      bundledModelPath: undefined,
      heartbeatTimeoutMs: 30_000,
      reconnectInitialMs: 20,
      reconnectMaxMs: 250,
      startupFallbackMs: 5_000,
      artifactFetchTimeoutMs: 10_000,
      shutdownGraceMs: 1_000,
      validateWithTfjs: false,
      explainPredictions: true,
      tls: testServerTls(),
      ...overrides,
    };
  }

  async replica(retrainAddr: string, overrides: Partial<PredictConfig> = {}): Promise<TestReplica> {
    const config = await this.config(retrainAddr, overrides);
    const server = await startPredictServer(config, this.logger);
    const client = new PredictTestClient(`127.0.0.1:${server.port}`);
    this.cleanups.push(async () => {
      client.close();
      await server.close(200);
    });
    return { server, client, config };
  }

  /** Registers something else to release on close (a fake server, a child process). */
  onClose(cleanup: () => Promise<void> | void): void {
    this.cleanups.push(cleanup);
  }

  async close(): Promise<void> {
    for (const cleanup of this.cleanups.splice(0).reverse()) await cleanup();
  }
}

/** A loopback address nothing listens on (a port bound, then released). */
export async function deadAddress(): Promise<string> {
  const { createServer } = await import("node:net");
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}
