import { tmpdir } from "node:os";
import path from "node:path";
import { configDefaults, defineConfig } from "vitest/config";
import { ALL_TEST_FILES, TLS_ONLY_FILES, TLS_PROJECT_FILES } from "./scripts/test-matrix.js";

// The "tls" project's throwaway PKI: written by its globalSetup before any worker starts,
// removed after the run. One folder per vitest process, so parallel runs do not share one.
const TLS_DIR = path.join(tmpdir(), `liver-mesh-test-tls-${process.pid}`);

export default defineConfig({
  test: {
    // 2 cores: integration tests start servers and workers; keep parallelism modest.
    pool: "forks",
    // Quiet service logs in tests; a test that reads logs sets its own level.
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" },
    reporters: ["default", "./scripts/plain-summary-reporter.ts"],
    maxWorkers: 2,
    // Deadlines only a hang exceeds: under a two-core CPU hog the slowest tests take a few
    // times their quiet duration (measured: 40 s tests at load 16), and a timeout is then
    // a false failure, not a finding. Speed is measured in `npm run bench`.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Two projects, both run by `npm test` (scripts/test-matrix.ts says which file is where and
    // why); one of them alone: npx vitest run --project plaintext (or --project tls).
    projects: [
      {
        extends: true,
        test: {
          name: "plaintext",
          include: [...ALL_TEST_FILES],
          exclude: [...configDefaults.exclude, ...TLS_ONLY_FILES],
        },
      },
      {
        extends: true,
        test: {
          name: "tls",
          // Only integration tests: files that start servers and connect them over gRPC.
          include: [...TLS_PROJECT_FILES, ...TLS_ONLY_FILES],
          globalSetup: ["./scripts/test-tls-setup.ts"],
          // grpc-js sends the dialled host as TLS server name, and tests dial 127.0.0.1 (in
          // production it is a DNS name); Node's once-per-process notice about an IP address
          // as server name would open the output of every file.
          execArgv: ["--disable-warning=DEP0123"],
          env: {
            TEST_TLS_DIR: TLS_DIR,
            // fetch() and https.request() to the bridge's HTTPS listener trust the run's CA; read
            // by Node when the worker starts, which is after globalSetup wrote the file.
            NODE_EXTRA_CA_CERTS: path.join(TLS_DIR, "ca.pem"),
          },
        },
      },
    ],
  },
});
