import { rmSync } from "node:fs";
import type { TestProject } from "vitest/node";
import { TEST_TLS_DIR, writeTestPki } from "../services/shared/testing/test-tls.js";

/**
 * globalSetup of the "tls" vitest project (vitest.config.ts): writes the run's throwaway PKI
 * (a CA, a "service" and a "client" certificate) into the folder the project's env names in
 * TEST_TLS_DIR, before any test worker starts, and removes it after the run. The fixtures read
 * it through services/shared/testing/test-tls.ts.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const dir = project.config.env[TEST_TLS_DIR];
  if (dir === undefined || dir === "") {
    throw new Error(`scripts/test-tls-setup.ts: the project "${project.name}" sets no ${TEST_TLS_DIR}`);
  }
  rmSync(dir, { recursive: true, force: true });
  await writeTestPki(dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
