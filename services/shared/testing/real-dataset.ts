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
