import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "services/**/*.test.ts",
      "gateway/**/*.test.ts",
      "scripts/**/*.test.ts",
      "k8s-manifests/**/*.test.ts",
      "data/**/*.test.ts",
    ],
    // 2 cores: integration tests start servers and workers; keep parallelism modest.
    pool: "forks",
    // Quiet service logs in tests; a test that reads logs sets its own level.
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" },
    reporters: ["default", "./scripts/plain-summary-reporter.ts"],
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
