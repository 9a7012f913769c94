import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * Where tests and benchmarks find the real LPD file: LPD_CSV when set, else the read-only
 * copy in ../shared/data/ beside the repository (as on developer machines and in CI). The
 * file is never committed; whatever needs it skips with a message when it is absent.
 */
export const REAL_CSV_PATH =
  process.env.LPD_CSV ??
  fileURLToPath(new URL("../../../../shared/data/Liver Patient Dataset (LPD)_train.csv", import.meta.url));

/** Whether the real file is there. */
export const haveRealCsv = existsSync(REAL_CSV_PATH);

/** What a test file that needs the real file prints when it is absent: never a silent skip. */
export const REAL_CSV_MISSING_NOTE = `real LPD file not found at ${REAL_CSV_PATH} (set LPD_CSV to its path): the tests and figures that need it are SKIPPED; tests that can run on the synthetic default say so in their names`;

/** Which data a test that can use either runs on, for its name: "real file" or why not. */
export const DATA_USED = haveRealCsv
  ? "on the real file"
  : "on the synthetic default: the real file is absent";

// Printed once per test file that imports this module (each file runs in its own worker).
if (!haveRealCsv) console.warn(REAL_CSV_MISSING_NOTE);
