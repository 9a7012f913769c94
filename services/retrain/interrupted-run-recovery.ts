import { mkdirSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import { isTemporaryArtifactName } from "../shared/model/model-artifact.js";
import type { RunLog } from "./store/run-log.js";

/**
 * Crash recovery at start: a run a previous process left open is closed as failed (its
 * feedback is not covered, so the start-up decision retrains it), and the half-written
 * artifact folders such a run leaves are removed so they never become versions.
 */
export function recoverInterruptedRuns(runLog: RunLog, modelPath: string, logger: Logger): void {
  const interrupted = runLog.failInterrupted(
    "interrupted: the RetrainService stopped during the run; its feedback is retrained after the restart",
  );
  if (interrupted > 0) logger.warn({ interrupted }, `marked ${interrupted} interrupted run(s) as failed`);
  mkdirSync(modelPath, { recursive: true });
  for (const name of readdirSync(modelPath)) {
    if (!isTemporaryArtifactName(name)) continue;
    logger.warn({ folder: name }, "removing a half-written artifact folder left by an interrupted run");
    rmSync(path.join(modelPath, name), { recursive: true, force: true });
  }
}
