/**
 * At every start after the first, compares the original data found now (the real CSV, or
 * the synthetic default) with the data the store was imported from. A difference is never
 * silent: it is logged and reported by GetRetrainStatus.original_data_notice with how to
 * switch. With REIMPORT_ORIGINAL_DATA=1 (npm start -- --reimport) the new data replaces the
 * stored data and the serving version, trained on the old data, retires, so the start
 * trains a first version on the new data plus all feedback, which stays untouched.
 */
import type { Logger } from "pino";
import { fingerprintDataset } from "../shared/data/dataset-fingerprint.js";
import type { OriginalDataset } from "../shared/data/original-dataset.js";
import type { ModelRegistry } from "./store/model-registry.js";
import type { SampleStore } from "./store/sample-store.js";
import type { StoreDatabase } from "./store/sqlite-store.js";

/** How to switch, in the words the log, the status and the help text share. */
export const REIMPORT_HOW_TO =
  "restart with REIMPORT_ORIGINAL_DATA=1 (npm start -- --reimport): it re-imports the data, " +
  "trains a first version on it, and keeps all feedback";

/** What reconcileOriginalData needs; the store must already hold original data. */
export interface OriginalDataCheckDeps {
  readonly db: StoreDatabase;
  readonly samples: SampleStore;
  readonly registry: ModelRegistry;
  /** Loads the original data as configured now (loadOriginalDataset). */
  readonly load: () => Promise<OriginalDataset>;
  /** REIMPORT_ORIGINAL_DATA: replace the stored data when it differs. */
  readonly reimport: boolean;
  readonly logger: Logger;
  readonly now?: () => number;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Compares, and re-imports when asked. Returns the notice for GetRetrainStatus: empty when
 * the data matches or was just re-imported.
 */
export async function reconcileOriginalData(deps: OriginalDataCheckDeps): Promise<string> {
  const { samples, logger } = deps;
  const stored = samples.info();
  if (stored === undefined) throw new Error("the store holds no original data to compare with");
  const importedOn = new Date(stored.importedAtMs).toISOString();
  let loaded: OriginalDataset;
  try {
    loaded = await deps.load();
  } catch (error) {
    if (deps.reimport) {
      throw new Error(
        `REIMPORT_ORIGINAL_DATA is set, but the original data could not be read: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    const notice =
      `The original data could not be read to compare it with the store (${errorMessage(error)}). ` +
      `Training uses the data imported on ${importedOn}: ${stored.description}.`;
    logger.warn({ err: error }, notice);
    return notice;
  }
  const storedFingerprint = fingerprintDataset(samples.loadDataset());
  const foundFingerprint = fingerprintDataset(loaded.dataset);
  if (storedFingerprint === foundFingerprint) {
    if (deps.reimport) {
      logger.info(
        { fingerprint: foundFingerprint },
        `REIMPORT_ORIGINAL_DATA is set, but the original data is unchanged (${stored.description}); nothing to re-import`,
      );
    }
    return "";
  }
  if (!deps.reimport) {
    const notice =
      `The original data found now (${loaded.description}) differs from the data this store was imported ` +
      `from on ${importedOn} (${stored.description}). Training and the holdout still use the stored data. ` +
      `To switch, ${REIMPORT_HOW_TO}.`;
    logger.warn({ storedFingerprint, foundFingerprint }, notice);
    return notice;
  }
  const retired = deps.db.transaction(() => {
    deps.samples.replaceDataset(loaded.dataset, loaded.description, deps.now?.() ?? Date.now());
    return deps.registry.retireServing();
  })();
  logger.warn(
    { storedFingerprint, foundFingerprint, retired: retired ?? null },
    `re-imported the original data: ${loaded.description} (was: ${stored.description}); ` +
      (retired === undefined ? "" : `retired ${retired}, which was trained on the old data; `) +
      "a first version is trained on the new data, all feedback kept",
  );
  return "";
}

/**
 * The original-data step of a start: imports the data on the first start (an empty store),
 * otherwise compares it with the stored data (reconcileOriginalData). Returns the notice
 * for GetRetrainStatus, empty when nothing needs saying.
 */
export async function importOrReconcileOriginalData(
  deps: Omit<OriginalDataCheckDeps, "now">,
): Promise<string> {
  const { samples, logger } = deps;
  if (samples.info() !== undefined) return await reconcileOriginalData(deps);
  const loaded = await deps.load();
  const info = samples.importDataset(loaded.dataset, loaded.description);
  logger.info({ rows: info.rows, source: info.source }, `imported the original data: ${info.description}`);
  return "";
}
