/**
 * `npx tsx scripts/model-plausibility.ts [--data <csv>]`: trains the model as Retrain does
 * on the real file, as served (clinical sign constraints and the clinical encoding), as
 * first constrained (signs with total proteins free, plain encoding) and as before both
 * (unconstrained, plain encoding), and reports for each what a clinician would judge it by: the
 * honest (lab-profile split) holdout ROC AUC, the same AUC by 5-fold cross-validation over
 * the training side's lab profiles and by repeated grouped cross-validation over every row (the
 * finer estimate of the difference: the fixed holdout's bootstrap interval is several
 * hundredths wide), every weight on the standardized scale as served, and,
 * over every loaded row, how many explanations contradict the clinical directions or say
 * that a value outside its normal limits lowered the estimate.
 */
import { parseArgs } from "node:util";
import type { Dataset } from "../services/shared/data/dataset.js";
import { loadLpdCsv } from "../services/shared/data/lpd-csv-loader.js";
import { Prng } from "../services/shared/data/prng.js";
import { FEATURE_COUNT, FEATURES } from "../services/shared/features/feature-schema.js";
import { countExplanationFindings } from "../services/shared/model/explanation-audit.js";
import {
  fitFeaturePipeline,
  transformToFloat32,
  type FeatureEncoding,
} from "../services/shared/model/feature-pipeline.js";
import { hashLabProfile, selectRows, splitHoldout } from "../services/shared/model/holdout-split.js";
import { rocAuc } from "../services/shared/model/metrics.js";
import { verifyArtifactFiles } from "../services/shared/model/model-artifact.js";
import { createScorer } from "../services/shared/model/scorer.js";
import { getTfBackend, type Tf } from "../services/shared/model/tf-backend.js";
import { trainLogisticRegression, type SignConstraint } from "../services/shared/model/trainer.js";
import { CLINICAL_SIGNS, runTrainingPipeline } from "../services/shared/model/training-pipeline.js";
import { REAL_CSV_PATH } from "../services/shared/testing/real-dataset.js";

const FOLDS = 5;
/** Repeats of the grouped cross-validation over every row, each with its own fold assignment. */
const REPEATS = 20;

/**
 * The fold of a lab-profile hash in repeat `repeat`: repeat 0 is the hash itself modulo FOLDS
 * (the training-side figure of earlier sessions); later repeats re-mix the hash with the
 * repeat's number (a murmur3 finalizer), so each repeat deals whole profiles afresh.
 */
function foldOf(profileHash: number, repeat: number): number {
  if (repeat === 0) return profileHash % FOLDS;
  let x = (profileHash ^ Math.imul(repeat, 0x9e3779b1)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return ((x ^ (x >>> 16)) >>> 0) % FOLDS;
}

/** Mean ROC AUC over FOLDS folds of `train`, each fold a set of whole lab profiles. */
async function groupedCrossValidatedAuc(
  tf: Tf,
  train: Dataset,
  signs: readonly SignConstraint[],
  encoding: FeatureEncoding,
  repeat = 0,
): Promise<number> {
  let total = 0;
  for (let fold = 0; fold < FOLDS; fold++) {
    const fitRows: number[] = [];
    const testRows: number[] = [];
    for (let row = 0; row < train.rows; row++) {
      const hash = hashLabProfile(train.features, row * FEATURE_COUNT);
      (foldOf(hash, repeat) === fold ? testRows : fitRows).push(row);
    }
    const fitSet = selectRows(train, fitRows);
    const testSet = selectRows(train, testRows);
    const pipeline = fitFeaturePipeline(fitSet, { encoding });
    const fit = await trainLogisticRegression(
      tf,
      { rows: fitSet.rows, columns: FEATURE_COUNT, values: transformToFloat32(pipeline, fitSet) },
      fitSet.labels,
      { signs },
    );
    const scorer = createScorer(pipeline, fit.weights);
    const scores = new Float64Array(testSet.rows);
    scorer.scoreBatch(testSet.features, testSet.rows, scores);
    total += rocAuc(testSet.labels.subarray(0, testSet.rows), scores);
  }
  return total / FOLDS;
}

const BOOTSTRAP_ROUNDS = 2_000;

/**
 * 95 % interval of the holdout ROC AUC difference b − a by a paired bootstrap over lab
 * profiles (the holdout's unit of independence): each round draws profiles with
 * replacement and scores both models on the same rows.
 */
function profileBootstrap(holdout: Dataset, a: Float32Array, b: Float32Array): [number, number] {
  const groups = new Map<number, number[]>();
  for (let row = 0; row < holdout.rows; row++) {
    const key = hashLabProfile(holdout.features, row * FEATURE_COUNT);
    let rows = groups.get(key);
    if (rows === undefined) groups.set(key, (rows = []));
    rows.push(row);
  }
  const members = [...groups.values()];
  const random = new Prng(1);
  const differences: number[] = [];
  for (let round = 0; round < BOOTSTRAP_ROUNDS; round++) {
    const rows: number[] = [];
    for (let i = 0; i < members.length; i++) {
      rows.push(...(members[Math.floor(random.nextFloat() * members.length)] ?? []));
    }
    const labels = Uint8Array.from(rows, (row) => holdout.labels[row] ?? 0);
    if (labels.every((label) => label === labels[0])) continue;
    const aucA = rocAuc(
      labels,
      Float64Array.from(rows, (row) => a[row] ?? 0),
    );
    const aucB = rocAuc(
      labels,
      Float64Array.from(rows, (row) => b[row] ?? 0),
    );
    differences.push(aucB - aucA);
  }
  differences.sort((x, y) => x - y);
  const at = (q: number): number => differences[Math.floor(q * (differences.length - 1))] ?? Number.NaN;
  return [at(0.025), at(0.975)];
}

const { values } = parseArgs({ options: { data: { type: "string" } } });
const csv = values.data ?? REAL_CSV_PATH;
const { dataset } = await loadLpdCsv(csv);
const backend = await getTfBackend({ info: () => undefined });
const trainSide = splitHoldout(dataset).train;
console.log(`data: ${csv} (${dataset.rows} complete rows)`);
const totalProteins = FEATURES.findIndex((spec) => spec.name === "total_proteins");
const variants: [string, readonly SignConstraint[], FeatureEncoding][] = [
  ["unconstrained, plain encoding (before)", CLINICAL_SIGNS.map(() => 0), "plain"],
  [
    "sign-constrained with total proteins free, plain encoding (first constrained)",
    CLINICAL_SIGNS.map((sign, i) => (i === totalProteins ? 0 : sign)),
    "plain",
  ],
  ["sign-constrained, clinical encoding (served)", CLINICAL_SIGNS, "clinical"],
];
const holdoutScores: Float32Array[] = [];
let holdoutRows: Dataset | undefined;
for (const [name, signs, encoding] of variants) {
  const result = await runTrainingPipeline({
    original: dataset,
    backend,
    trainer: { signs },
    encoding,
    artifact: { version: "v1" },
  });
  const artifact = result.artifact;
  if (artifact === undefined) throw new Error("the pipeline built no artifact");
  // The weights as served: read back from the artifact files Predict receives.
  const served = verifyArtifactFiles(artifact.files, artifact.manifestSha256);
  const scorer = createScorer(served.pipeline, served.weights);
  const { holdout } = result.metrics;
  holdoutScores.push(result.holdoutProbabilities);
  holdoutRows = result.holdout;
  console.log(`\n== ${name}`);
  console.log(
    `holdout (lab-profile split): ${holdout.rows} rows, ROC AUC ${holdout.rocAuc.toFixed(4)}, ` +
      `accuracy ${holdout.accuracy.toFixed(4)}, log loss ${holdout.logLoss.toFixed(4)}`,
  );
  const cv = await groupedCrossValidatedAuc(backend.tf, trainSide, signs, encoding);
  console.log(`training side, ${FOLDS}-fold CV grouped by lab profile: mean ROC AUC ${cv.toFixed(4)}`);
  console.log("weights (standardized scale, as served):");
  FEATURES.forEach((spec, i) =>
    console.log(`  ${spec.name.padEnd(28)} ${(served.weights.kernel[i] ?? 0).toFixed(4)}`),
  );
  console.log(`  ${"bias".padEnd(28)} ${served.weights.bias.toFixed(4)}`);
  const findings = countExplanationFindings(scorer, served.weights.kernel, dataset.features, dataset.rows);
  console.log(`rows explained: ${findings.rows}`);
  console.log(
    `rows where a constrained feature contributes against its direction: ${findings.againstDirection}`,
  );
  console.log(
    `answers saying a lab beyond normal limits on the disease side lowered the estimate: ${findings.abnormalLowered}`,
  );
  console.log(
    `answers saying any lab outside normal limits lowered the estimate: ${findings.anyOutsideLowered} ` +
      `(a lab beyond its healthy-side limit, e.g. albumin above 5.4: ${findings.healthySideLowered}; ` +
      `total proteins: ${findings.totalProteinsLowered})`,
  );
  console.log(
    `rows where a lab beyond its healthy-side limit counts other than as the limit: ${findings.healthySideNotAtLimit}`,
  );
  console.log(`worst |reference + contributions - logit|: ${findings.worstSumError.toExponential(2)}`);
}
// The fixed holdout is one draw of about a fifth of the profiles; its paired bootstrap (below)
// spans several hundredths, far wider than the 0.005 budget. Repeated grouped CV over every
// row (REPEATS × FOLDS fits per model, the same folds for both) is the finer honest estimate
// of the difference.
const cvDifferences: number[] = [];
let cvBefore = 0;
let cvServed = 0;
for (let repeat = 0; repeat < REPEATS; repeat++) {
  const first = variants[0];
  const last = variants[variants.length - 1];
  if (first === undefined || last === undefined) break;
  const a = await groupedCrossValidatedAuc(backend.tf, dataset, first[1], first[2], repeat);
  const b = await groupedCrossValidatedAuc(backend.tf, dataset, last[1], last[2], repeat);
  cvBefore += a / REPEATS;
  cvServed += b / REPEATS;
  cvDifferences.push(b - a);
}
cvDifferences.sort((x, y) => x - y);
console.log(
  `\nall ${dataset.rows} rows, ${REPEATS} × ${FOLDS}-fold CV grouped by lab profile: mean ROC AUC ` +
    `before ${cvBefore.toFixed(4)}, served ${cvServed.toFixed(4)}, served minus before ` +
    `${(cvServed - cvBefore).toFixed(4)} (repeats from ${(cvDifferences[0] ?? Number.NaN).toFixed(4)} ` +
    `to ${(cvDifferences[cvDifferences.length - 1] ?? Number.NaN).toFixed(4)})`,
);
const before = holdoutScores[0];
const after = holdoutScores[holdoutScores.length - 1];
if (holdoutRows !== undefined && before !== undefined && after !== undefined) {
  const [low, high] = profileBootstrap(holdoutRows, before, after);
  console.log(
    `\nholdout ROC AUC, served minus before, 95 % paired bootstrap over lab profiles ` +
      `(${BOOTSTRAP_ROUNDS} rounds): ${low.toFixed(4)} to ${high.toFixed(4)}`,
  );
}
