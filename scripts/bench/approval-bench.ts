/**
 * Large changes wait for approval (issue 15): on the real file, with default settings,
 * five colluding sources send verdicts on real patients that keep the model's ranking but
 * claim a much lower prevalence (what moved sensitivity 91 % -> 17 % before), and nobody
 * approves: the served answers must stay where they were. Genuine feedback at the original
 * prevalence, a small change, must still promote without anyone's approval.
 */
import { Prng } from "../../services/shared/data/prng.js";
import { DEFAULT_GATE_POLICY } from "../../services/retrain/quality-gate.js";
import type { Dataset } from "../../services/shared/data/dataset.js";
import { loadLpdCsv } from "../../services/shared/data/lpd-csv-loader.js";
import { FEATURE_COUNT, FEATURES } from "../../services/shared/features/feature-schema.js";
import { splitHoldout } from "../../services/shared/model/holdout-split.js";
import type { Scorer } from "../../services/shared/model/scorer.js";
import { REAL_CSV_PATH, haveRealCsv } from "../../services/shared/testing/real-dataset.js";
import type { BenchContext, BenchSection } from "./bench-harness.js";
import { asDataset, clinicRows, Mesh, rowOf, type Design, type Labelled } from "./integrity-bench.js";

const TB = FEATURES.findIndex((f) => f.name === "total_bilirubin");
const DEFAULTS: Design = {
  name: "defaults",
  settings: { gatePolicy: DEFAULT_GATE_POLICY, siteRecalibration: true, feedbackScreening: true },
};
const COLLUDERS = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4", "203.0.113.5"];

/** Sensitivity and the share of total bilirubin > 3 predicted diseased, on `rows`. */
function answers(scorer: Scorer, rows: Dataset): { sensitivity: number; jaundiced: number; mean: number } {
  const p = new Float64Array(rows.rows);
  scorer.scoreBatch(rows.features, rows.rows, p);
  let positives = 0;
  let caught = 0;
  let jaundiced = 0;
  let jaundicedDiseased = 0;
  let sum = 0;
  for (let r = 0; r < rows.rows; r++) {
    const diseased = (p[r] ?? 0) >= 0.5;
    sum += p[r] ?? 0;
    if (rows.labels[r] === 1) {
      positives++;
      if (diseased) caught++;
    }
    if ((rows.features[r * FEATURE_COUNT + TB] ?? 0) > 3) {
      jaundiced++;
      if (diseased) jaundicedDiseased++;
    }
  }
  return { sensitivity: caught / positives, jaundiced: jaundicedDiseased / jaundiced, mean: sum / rows.rows };
}

/** Real patients labelled by the serving model's ranking, with only the top `prevalence` diseased. */
function rankingKeptRows(
  scorer: Scorer,
  pool: Dataset,
  count: number,
  prevalence: number,
  random: Prng,
): Labelled[] {
  const p = new Float64Array(pool.rows);
  scorer.scoreBatch(pool.features, pool.rows, p);
  const cut = [...p].sort((a, b) => b - a)[Math.floor(prevalence * pool.rows)] ?? 0.5;
  return Array.from({ length: count }, () => {
    const r = Math.floor(random.nextFloat() * pool.rows);
    return { features: rowOf(pool, r), label: (p[r] ?? 0) > cut ? (1 as const) : (0 as const) };
  });
}

const pts = (share: number): string => `${(100 * share).toFixed(1)} %`;

async function run(context: BenchContext): Promise<void> {
  if (!haveRealCsv) {
    context.note(`skipped: the real dataset is not at ${REAL_CSV_PATH}`);
    return;
  }
  const { dataset } = await loadLpdCsv(REAL_CSV_PATH);
  const split = splitHoldout(dataset);
  const unique = asDataset(
    [split.train, split.holdout].flatMap((part) =>
      Array.from({ length: part.rows }, (_, r) => ({
        features: rowOf(part, r),
        label: part.labels[r] === 1 ? (1 as const) : (0 as const),
      })),
    ),
  );

  const mesh = await Mesh.start(DEFAULTS);
  try {
    const before = await mesh.served(unique);
    const was = answers(before.scorer, unique);
    const rows = rankingKeptRows(before.scorer, unique, 500, 0.2, new Prng(15));
    for (let start = 0; start < rows.length; start += 100) {
      await mesh.send(rows.slice(start, start + 100), (i) => COLLUDERS[i % COLLUDERS.length] ?? "");
    }
    const after = await mesh.served(unique);
    const now = answers(after.scorer, unique);
    const waiting = mesh.retrain.registry.pending();
    const versions = mesh.retrain.registry.list();
    context.note(
      `five colluding sources, 500 verdicts on real patients, ranking kept, 20 % prevalence claimed, nobody approves: ` +
        `serving ${before.version} -> ${after.version}; ${versions.length} versions, waiting: ${waiting?.modelVersion ?? "none"}; ` +
        `sensitivity ${pts(was.sensitivity)} -> ${pts(now.sensitivity)}, bilirubin > 3 predicted diseased ` +
        `${pts(was.jaundiced)} -> ${pts(now.jaundiced)}, mean probability ${was.mean.toFixed(3)} -> ${now.mean.toFixed(3)}`,
    );
    context.record({
      name: "colluding sources, nobody approves: sensitivity change",
      unit: "points",
      samples: [100 * (now.sensitivity - was.sensitivity)],
      target: "within 2 points",
      met: Math.abs(now.sensitivity - was.sensitivity) <= 0.02,
    });
    context.record({
      name: "colluding sources, nobody approves: bilirubin > 3 predicted diseased, change",
      unit: "points",
      samples: [100 * (now.jaundiced - was.jaundiced)],
      target: "within 2 points",
      met: Math.abs(now.jaundiced - was.jaundiced) <= 0.02,
    });
  } finally {
    await mesh.close();
  }

  const genuine = await Mesh.start(DEFAULTS);
  try {
    const before = await genuine.served(unique);
    const sources = ["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"];
    await genuine.send(clinicRows(unique, 200, 0.71, new Prng(99)), (i) => sources[i % sources.length] ?? "");
    const after = await genuine.served(unique);
    const waiting = genuine.retrain.registry.pending();
    const promoted = after.version !== before.version;
    context.note(
      `genuine feedback at the original prevalence (200 verdicts, 4 sources): serving ${before.version} -> ${after.version}` +
        (waiting === undefined ? "" : `; ${waiting.modelVersion} waits: ${waiting.reason}`),
    );
    context.record({
      name: "genuine small change promoted without approval",
      unit: "versions",
      samples: [promoted ? 1 : 0],
      target: "1 (promoted as before)",
      met: promoted,
    });
  } finally {
    await genuine.close();
  }
}

export const section: BenchSection = {
  title: "Large changes wait for approval (issue 15): colluding sources vs genuine small changes",
  run,
};
