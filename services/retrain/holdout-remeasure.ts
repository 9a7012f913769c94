/**
 * The store's migration to the lab-profile holdout: versions trained before it were scored
 * on a row-level split that leaked lab profiles into training, so their figures overstate
 * them. At start, the serving version is re-scored on the current holdout (its base model,
 * as the gate compares) and its registry row records which holdout the new figures come
 * from. Older rejected and retired versions keep their figures, labelled "row-v1".
 */
import path from "node:path";
import type { Logger } from "pino";
import { HOLDOUT_SCHEME, splitHoldout } from "../shared/model/holdout-split.js";
import { evaluateBinary } from "../shared/model/metrics.js";
import { readArtifactDir } from "../shared/model/model-artifact.js";
import { createScorer } from "../shared/model/scorer.js";
import { scoreRows } from "./gate-evidence.js";
import type { ModelRegistry } from "./store/model-registry.js";
import type { SampleStore } from "./store/sample-store.js";

/** Re-scores the serving version when its figures come from another holdout; true when it did. */
export async function remeasureServingVersion(
  registry: ModelRegistry,
  samples: SampleStore,
  modelPath: string,
  logger: Logger,
): Promise<boolean> {
  const serving = registry.serving();
  if (serving === undefined || serving.holdoutScheme === HOLDOUT_SCHEME) return false;
  const { holdout, report } = splitHoldout(samples.loadDataset());
  const loaded = await readArtifactDir(path.join(modelPath, serving.modelVersion));
  const probabilities = scoreRows(createScorer(loaded.pipeline, loaded.weights), holdout);
  const metrics = evaluateBinary(holdout.labels, probabilities, serving.metrics.threshold);
  registry.remeasure(serving.modelVersion, metrics, report.holdoutScheme, report.holdoutFingerprint);
  logger.info(
    {
      modelVersion: serving.modelVersion,
      before: { scheme: serving.holdoutScheme, rocAuc: serving.metrics.rocAuc },
      after: { scheme: report.holdoutScheme, rocAuc: metrics.rocAuc },
    },
    `re-scored serving ${serving.modelVersion} on the ${report.holdoutScheme} holdout: ROC AUC ` +
      `${metrics.rocAuc.toFixed(4)} (was ${serving.metrics.rocAuc.toFixed(4)} on ${serving.holdoutScheme})`,
  );
  return true;
}
