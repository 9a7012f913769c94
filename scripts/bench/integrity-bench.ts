/**
 * Bench section: feedback integrity (issue 8). Real servers in this process (RetrainService
 * with its worker thread and a real SQLite store, one PredictService replica), the real
 * file, and only public methods for the attacker and the clinic: Predict, then
 * SubmitFeedback with a verdict that gives the label wanted. Each scenario runs twice in
 * the same run: with this design (grouped holdout, gate against a fixed reference and
 * slices, plausibility screening, bounded site recalibration) and with the previous one
 * (feedback weighted like an original row, no screening, gate against the serving model
 * only). The per-source hourly limit is lifted in both, so the figures show what the design
 * itself bounds; one extra figure shows what the default limit does to a burst.
 *
 * Attacks come from one source (x-forwarded-for from the trusted loopback gateway), two
 * kinds (made-up jaundiced patients labelled healthy; real rows with flipped labels), two
 * pacings (one burst; 25 per retrain). Figures are measured on all unique real rows.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import { credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { pino } from "pino";
import { Diagnosis } from "../../services/gen/liver/v1/patient.js";
import { FeedbackVerdict, RetrainServiceClient } from "../../services/gen/liver/v1/retrain_service.js";
import { startPredictServer, type PredictServer } from "../../services/predict/predict-server.js";
import { PredictTestClient } from "../../services/predict/testing/predict-clients.js";
import { vectorToPatient } from "../../services/predict/testing/patients.js";
import { DEFAULT_GATE_POLICY, type GatePolicy } from "../../services/retrain/quality-gate.js";
import type { RetrainConfig } from "../../services/retrain/retrain-config.js";
import { startRetrainServer, type RetrainServerHandle } from "../../services/retrain/retrain-server.js";
import { openSqliteStore } from "../../services/retrain/store/sqlite-store.js";
import { storeFilePath } from "../../services/retrain/retrain-config.js";
import { testConfig, testSigner } from "../../services/retrain/testing/retrain-fixtures.js";
import { allocateDataset, type Dataset } from "../../services/shared/data/dataset.js";
import { loadLpdCsv } from "../../services/shared/data/lpd-csv-loader.js";
import { Prng } from "../../services/shared/data/prng.js";
import { FEATURE_COUNT, FEATURES } from "../../services/shared/features/feature-schema.js";
import { fitFeaturePipeline, transformToFloat32 } from "../../services/shared/model/feature-pipeline.js";
import { splitHoldout } from "../../services/shared/model/holdout-split.js";
import { logLoss, rocAuc } from "../../services/shared/model/metrics.js";
import { readArtifactDir } from "../../services/shared/model/model-artifact.js";
import { createScorer, type Scorer } from "../../services/shared/model/scorer.js";
import { getTfBackend } from "../../services/shared/model/tf-backend.js";
import { trainLogisticRegression } from "../../services/shared/model/trainer.js";
import { REAL_CSV_PATH, haveRealCsv } from "../../services/shared/testing/real-dataset.js";
import type { BenchContext, BenchSection } from "./bench-harness.js";

export const order = 25;

const ADMIN_TOKEN = "integrity-bench-admin-token";
const ATTACKER = "203.0.113.66";
const TB = FEATURES.findIndex((f) => f.name === "total_bilirubin");
const DB = FEATURES.findIndex((f) => f.name === "direct_bilirubin");

/** The two designs compared in every scenario. */
export interface Design {
  readonly name: string;
  readonly settings: Partial<RetrainConfig>;
}

const CURRENT_GATE: GatePolicy = {
  servingTolerance: 0.01,
  minRocAuc: 0,
  maxLossVsReference: 1,
  maxSliceChange: 1,
  minSliceRows: 1,
  // The previous design had no approval step.
  approvalMaxClassChange: 1,
};

const DESIGNS: readonly Design[] = [
  {
    name: "this design",
    settings: { gatePolicy: DEFAULT_GATE_POLICY, siteRecalibration: true, feedbackScreening: true },
  },
  {
    name: "previous design",
    settings: { gatePolicy: CURRENT_GATE, siteRecalibration: false, feedbackScreening: false },
  },
];

/** A labelled row someone sends through the buttons. */
export interface Labelled {
  readonly features: Float64Array;
  readonly label: 0 | 1;
}

/** What the served model does on all unique real rows. */
interface Served {
  readonly version: string;
  readonly auc: number;
  /** Share of real patients with total bilirubin above 3 mg/dL predicted diseased. */
  readonly jaundicedDiseased: number;
  readonly scorer: Scorer;
}

/** Retrain + one Predict replica, in this process, on temp folders. */
export class Mesh {
  private readonly predictClient: PredictTestClient;
  private readonly retrainClient: RetrainServiceClient;

  private constructor(
    private readonly dir: string,
    readonly retrain: RetrainServerHandle,
    private readonly predict: PredictServer,
    readonly config: RetrainConfig,
  ) {
    this.predictClient = new PredictTestClient(`127.0.0.1:${predict.port}`, 30_000);
    this.retrainClient = new RetrainServiceClient(`127.0.0.1:${retrain.port}`, credentials.createInsecure());
  }

  static async start(design: Design): Promise<Mesh> {
    const dir = mkdtempSync(path.join(tmpdir(), "integrity-bench-"));
    const logger = pino({ level: "silent" });
    const keys = testSigner();
    const config = testConfig(dir, keys.key, {
      trainingCsv: REAL_CSV_PATH,
      adminToken: ADMIN_TOKEN,
      feedbackPerSourcePerHour: 0,
      ...design.settings,
    });
    const retrain = await startRetrainServer(config, logger, { defaultMetrics: false });
    await retrain.scheduler.whenIdle();
    const predict = await startPredictServer(
      {
        host: "127.0.0.1",
        port: 0,
        metricsPort: 0,
        retrainAddr: `127.0.0.1:${retrain.port}`,
        signingKey: keys.key,
        modelCachePath: path.join(dir, "predict-cache"),
        bundledModelPath: undefined,
        heartbeatTimeoutMs: 30_000,
        reconnectInitialMs: 20,
        reconnectMaxMs: 250,
        startupFallbackMs: 5_000,
        artifactFetchTimeoutMs: 10_000,
        shutdownGraceMs: 500,
        validateWithTfjs: false,
        explainPredictions: true,
      },
      logger,
    );
    const mesh = new Mesh(dir, retrain, predict, config);
    await mesh.untilPredictServes();
    return mesh;
  }

  /** Waits until the replica has loaded a model (it fetches the first one after start). */
  private async untilPredictServes(): Promise<void> {
    const deadline = Date.now() + 30_000;
    while ((await this.predictClient.modelInfo()).modelVersion === "") {
      if (Date.now() > deadline) throw new Error("the Predict replica loaded no model within 30 s");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Predicts, then sends the verdict that makes `row.label` the training label; false when refused. */
  async teach(row: Labelled, source: string): Promise<boolean> {
    const answer = await this.predictClient.predict(vectorToPatient(row.features, 0));
    const saysDisease = answer.diagnosis === Diagnosis.DIAGNOSIS_LIVER_DISEASE;
    const verdict =
      saysDisease === (row.label === 1)
        ? FeedbackVerdict.FEEDBACK_VERDICT_CORRECT
        : FeedbackVerdict.FEEDBACK_VERDICT_WRONG;
    const metadata = new Metadata();
    metadata.set("x-forwarded-for", source);
    return new Promise((resolve, reject) => {
      this.retrainClient.submitFeedback(
        { feedbackToken: answer.feedbackToken, verdict },
        metadata,
        { deadline: Date.now() + 30_000 },
        (error: ServiceError | null) => {
          if (error === null) resolve(true);
          else if (error.code === status.RESOURCE_EXHAUSTED) resolve(false);
          else reject(error);
        },
      );
    });
  }

  /** Sends rows 25 at a time in flight, then waits for every retrain they cause. */
  async send(rows: readonly Labelled[], source: (i: number) => string): Promise<number> {
    let accepted = 0;
    for (let start = 0; start < rows.length; start += 25) {
      const chunk = rows.slice(start, start + 25);
      const results = await Promise.all(chunk.map((row, i) => this.teach(row, source(start + i))));
      accepted += results.filter(Boolean).length;
    }
    await this.settle();
    return accepted;
  }

  /** Waits until no retrain is queued or running. */
  async settle(): Promise<void> {
    // A run may be queued by the last acknowledgement just after this is called.
    await new Promise((resolve) => setTimeout(resolve, 20));
    await this.retrain.scheduler.whenIdle();
  }

  /** The serving version as Predict serves it (base model with its recalibration). */
  async served(evaluation: Dataset): Promise<Served> {
    const serving = this.retrain.registry.serving();
    if (serving === undefined) throw new Error("no version serves");
    const loaded = await readArtifactDir(path.join(this.config.modelPath, serving.modelVersion));
    const scorer = createScorer(loaded.pipeline, loaded.weights, loaded.calibration);
    return { version: serving.modelVersion, scorer, ...evaluate(scorer, evaluation) };
  }

  /** Counts stored feedback by state among `sources`. */
  states(sources: readonly string[]): Map<string, number> {
    const db = openSqliteStore(storeFilePath(this.config), { readonly: true });
    try {
      const out = new Map<string, number>();
      const query = db.prepare<[string], { state: string; n: number }>(
        "SELECT state, COUNT(*) AS n FROM feedback WHERE source = ? GROUP BY state",
      );
      for (const source of sources) {
        for (const { state, n } of query.all(source)) out.set(state, (out.get(state) ?? 0) + n);
      }
      return out;
    } finally {
      db.close();
    }
  }

  /**
   * An admin approves the candidate waiting for approval (a change larger than
   * APPROVAL_MAX_CLASS_CHANGE), as a clinic's genuine change would be; undefined when none waits.
   */
  async approvePending(reason: string): Promise<string | undefined> {
    const pending = this.retrain.registry.pending();
    if (pending === undefined) return undefined;
    const metadata = new Metadata();
    metadata.set("authorization", `Bearer ${ADMIN_TOKEN}`);
    await new Promise<void>((resolve, reject) => {
      this.retrainClient.approveModelVersion(
        { modelVersion: pending.modelVersion, reason },
        metadata,
        { deadline: Date.now() + 30_000 },
        (error) => (error === null ? resolve() : reject(error)),
      );
    });
    return pending.modelVersion;
  }

  /** The operator's repair: exclude every row of one source (admin RPC), then the retrain. */
  async exclude(source: string): Promise<number> {
    const metadata = new Metadata();
    metadata.set("authorization", `Bearer ${ADMIN_TOKEN}`);
    const affected = await new Promise<number>((resolve, reject) => {
      this.retrainClient.excludeFeedback(
        { selector: { feedbackIds: [], source, received: undefined }, reason: "integrity bench: attacker" },
        metadata,
        { deadline: Date.now() + 30_000 },
        (error, response) => (error === null ? resolve(response.change?.affected ?? 0) : reject(error)),
      );
    });
    await this.settle();
    return affected;
  }

  async close(): Promise<void> {
    this.predictClient.close();
    this.retrainClient.close();
    await this.predict.close();
    await this.retrain.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** ROC AUC and the jaundiced share predicted diseased, on `rows`. */
function evaluate(scorer: Scorer, rows: Dataset): { auc: number; jaundicedDiseased: number } {
  const p = new Float64Array(rows.rows);
  scorer.scoreBatch(rows.features, rows.rows, p);
  let jaundiced = 0;
  let diseased = 0;
  for (let r = 0; r < rows.rows; r++) {
    if ((rows.features[r * FEATURE_COUNT + TB] ?? 0) > 3) {
      jaundiced++;
      if ((p[r] ?? 0) >= 0.5) diseased++;
    }
  }
  return { auc: rocAuc(rows.labels.subarray(0, rows.rows), p), jaundicedDiseased: diseased / jaundiced };
}

export function rowOf(dataset: Dataset, r: number): Float64Array {
  return dataset.features.slice(r * FEATURE_COUNT, (r + 1) * FEATURE_COUNT);
}

/** Made-up jaundiced patients: real lab profiles, total bilirubin 20-100, direct 10-50, labelled healthy. */
function craftedRows(pool: Dataset, count: number, random: Prng): Labelled[] {
  return Array.from({ length: count }, () => {
    const features = rowOf(pool, Math.floor(random.nextFloat() * pool.rows));
    features[TB] = 20 + 80 * random.nextFloat();
    features[DB] = 10 + 40 * random.nextFloat();
    return { features, label: 0 as const };
  });
}

/** Real rows with the opposite label. */
function flippedRows(pool: Dataset, count: number, random: Prng): Labelled[] {
  return Array.from({ length: count }, () => {
    const r = Math.floor(random.nextFloat() * pool.rows);
    return { features: rowOf(pool, r), label: pool.labels[r] === 1 ? (0 as const) : (1 as const) };
  });
}

/** Real rows with their true labels, resampled to `prevalence`. */
export function clinicRows(pool: Dataset, count: number, prevalence: number, random: Prng): Labelled[] {
  const positives: number[] = [];
  const negatives: number[] = [];
  for (let r = 0; r < pool.rows; r++) (pool.labels[r] === 1 ? positives : negatives).push(r);
  return Array.from({ length: count }, () => {
    const from = random.nextFloat() < prevalence ? positives : negatives;
    const r = from[Math.floor(random.nextFloat() * from.length)] ?? 0;
    return { features: rowOf(pool, r), label: pool.labels[r] === 1 ? (1 as const) : (0 as const) };
  });
}

export function asDataset(rows: readonly Labelled[]): Dataset {
  const out = allocateDataset(rows.length, "real");
  rows.forEach((row, i) => {
    out.features.set(row.features, i * FEATURE_COUNT);
    out.labels[i] = row.label;
  });
  return out;
}

function logLossOn(scorer: Scorer, rows: Dataset): number {
  const p = new Float64Array(rows.rows);
  scorer.scoreBatch(rows.features, rows.rows, p);
  return logLoss(rows.labels, p);
}

/** A plain logistic regression fitted on the clinic's feedback: what full adaptation could reach. */
async function clinicModel(rows: Dataset): Promise<Scorer> {
  const { tf } = await getTfBackend();
  const pipeline = fitFeaturePipeline(rows);
  const fit = await trainLogisticRegression(
    tf,
    { rows: rows.rows, columns: FEATURE_COUNT, values: transformToFloat32(pipeline, rows) },
    rows.labels,
  );
  return createScorer(pipeline, fit.weights);
}

const pts = (share: number): string => `${(100 * share).toFixed(1)} points`;

interface AttackPlan {
  readonly name: string;
  readonly rows: (random: Prng) => Labelled[];
  /** Rows per retrain; undefined for one burst. */
  readonly pace: number | undefined;
}

async function runAttack(
  context: BenchContext,
  design: Design,
  plan: AttackPlan,
  evaluation: Dataset,
  followUp: ((mesh: Mesh, before: Served) => Promise<void>) | undefined,
): Promise<{ aucDrop: number; jaundicedDrop: number }> {
  const mesh = await Mesh.start(design);
  try {
    const before = await mesh.served(evaluation);
    const rows = plan.rows(new Prng(17));
    const started = performance.now();
    let accepted = 0;
    if (plan.pace === undefined) {
      accepted = await mesh.send(rows, () => ATTACKER);
    } else {
      for (let start = 0; start < rows.length; start += plan.pace) {
        accepted += await mesh.send(rows.slice(start, start + plan.pace), () => ATTACKER);
      }
    }
    const after = await mesh.served(evaluation);
    const states = mesh.states([ATTACKER]);
    const aucDrop = after.auc - before.auc;
    const jaundicedDrop = before.jaundicedDiseased - after.jaundicedDiseased;
    context.note(
      `${design.name}, ${plan.name}: ${accepted} rows accepted (${states.get("quarantined") ?? 0} quarantined), ` +
        `${before.version} -> ${after.version}; ROC AUC ${before.auc.toFixed(4)} -> ${after.auc.toFixed(4)} ` +
        `(${aucDrop >= 0 ? "+" : ""}${aucDrop.toFixed(4)}); bilirubin > 3 predicted diseased ` +
        `${pts(before.jaundicedDiseased)} -> ${pts(after.jaundicedDiseased)} ` +
        `(${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
    if (followUp !== undefined) await followUp(mesh, before);
    return { aucDrop, jaundicedDrop };
  } finally {
    await mesh.close();
  }
}

/** sklearn's LogisticRegression on the same grouped split, when python3 has scikit-learn. */
function sklearnOnSplit(train: Dataset, holdout: Dataset): number | undefined {
  const dir = mkdtempSync(path.join(tmpdir(), "integrity-sklearn-"));
  try {
    const write = (name: string, rows: Dataset): void => {
      const lines: string[] = [];
      for (let r = 0; r < rows.rows; r++) lines.push([...rowOf(rows, r), rows.labels[r] ?? 0].join(","));
      writeFileSync(path.join(dir, name), lines.join("\n"));
    };
    write("train.csv", train);
    write("holdout.csv", holdout);
    const script = [
      "import sys, numpy as np",
      "from sklearn.linear_model import LogisticRegression",
      "from sklearn.preprocessing import StandardScaler",
      "from sklearn.pipeline import make_pipeline",
      "from sklearn.metrics import roc_auc_score",
      "tr = np.loadtxt(sys.argv[1] + '/train.csv', delimiter=',')",
      "ho = np.loadtxt(sys.argv[1] + '/holdout.csv', delimiter=',')",
      "m = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(tr[:, :-1], tr[:, -1])",
      "print(roc_auc_score(ho[:, -1], m.predict_proba(ho[:, :-1])[:, 1]))",
    ].join("\n");
    // The first Python that has scikit-learn (Debian's python3-sklearn is under /usr/bin).
    for (const python of ["python3", "/usr/bin/python3"]) {
      const result = spawnSync(python, ["-c", script, dir], { encoding: "utf8", timeout: 120_000 });
      const value = Number(result.stdout.trim());
      if (result.status === 0 && Number.isFinite(value)) return value;
    }
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function run(context: BenchContext): Promise<void> {
  if (!haveRealCsv) {
    context.note(`skipped: the real dataset is not at ${REAL_CSV_PATH}`);
    return;
  }
  const { dataset } = await loadLpdCsv(REAL_CSV_PATH);
  const split = splitHoldout(dataset);
  const unique = asDataset([
    ...Array.from({ length: split.train.rows }, (_, r) => ({
      features: rowOf(split.train, r),
      label: split.train.labels[r] === 1 ? (1 as const) : (0 as const),
    })),
    ...Array.from({ length: split.holdout.rows }, (_, r) => ({
      features: rowOf(split.holdout, r),
      label: split.holdout.labels[r] === 1 ? (1 as const) : (0 as const),
    })),
  ]);
  const craftedBudget = 1_000;
  const flippedBudget = context.quick ? 1_000 : 2_700;
  const plans: AttackPlan[] = [
    {
      name: `${craftedBudget} crafted rows in one burst`,
      rows: (r) => craftedRows(unique, craftedBudget, r),
      pace: undefined,
    },
    {
      name: `${craftedBudget} crafted rows, 25 per retrain`,
      rows: (r) => craftedRows(unique, craftedBudget, r),
      pace: 25,
    },
    {
      name: `${flippedBudget} flipped rows in one burst`,
      rows: (r) => flippedRows(unique, flippedBudget, r),
      pace: undefined,
    },
    {
      name: `${flippedBudget} flipped rows, 25 per retrain`,
      rows: (r) => flippedRows(unique, flippedBudget, r),
      pace: 25,
    },
  ];

  for (const design of DESIGNS) {
    const isNew = design === DESIGNS[0];
    let worstAuc = 0;
    let worstJaundiced = 0;
    let genuineReached = Number.NaN;
    let recovery = Number.NaN;
    for (const [index, plan] of plans.entries()) {
      const followUp =
        index === 0
          ? async (mesh: Mesh): Promise<void> => {
              // Genuine feedback after the burst, from four other clinicians' workstations.
              const genuine = clinicRows(unique, 200, 0.72, new Prng(99));
              const sources = ["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"];
              const lastBefore = mesh.retrain.registry.serving()?.modelVersion;
              await mesh.send(genuine, (i) => sources[i % sources.length] ?? "");
              const serving = mesh.retrain.registry.serving();
              const promoted = serving !== undefined && serving.modelVersion !== lastBefore;
              const trained = mesh.states(sources).get("trained") ?? 0;
              genuineReached = promoted ? trained / genuine.length : 0;
              context.note(
                `${design.name}: genuine feedback after the burst: ${trained} of ${genuine.length} train, ` +
                  (promoted ? `promoted ${serving.modelVersion}` : "no version promoted"),
              );
            }
          : index === 1
            ? async (mesh: Mesh, before: Served): Promise<void> => {
                const excluded = await mesh.exclude(ATTACKER);
                const after = await mesh.served(unique);
                recovery = after.auc - before.auc;
                context.note(
                  `${design.name}: operator excluded ${excluded} rows of ${ATTACKER}; serving ${after.version} ` +
                    `ROC AUC ${after.auc.toFixed(4)} vs ${before.auc.toFixed(4)} before the attack`,
                );
              }
            : undefined;
      const result = await runAttack(context, design, plan, unique, followUp);
      worstAuc = Math.min(worstAuc, result.aucDrop);
      worstJaundiced = Math.max(worstJaundiced, result.jaundicedDrop);
    }
    context.record({
      name: `${design.name}: worst served ROC AUC change under attack`,
      unit: "AUC",
      samples: [worstAuc],
      ...(isNew ? { target: ">= -0.01", met: worstAuc >= -0.01 } : {}),
    });
    context.record({
      name: `${design.name}: worst drop, bilirubin > 3 predicted diseased`,
      unit: "points",
      samples: [100 * worstJaundiced],
      ...(isNew ? { target: "<= 2 points", met: 100 * worstJaundiced <= 2 } : {}),
    });
    context.record({
      name: `${design.name}: genuine feedback reaching a promoted model after a burst`,
      unit: "%",
      samples: [100 * genuineReached],
      ...(isNew ? { target: ">= 98 %", met: 100 * genuineReached >= 98 } : {}),
    });
    context.record({
      name: `${design.name}: recovery, excluded attacker vs pre-attack AUC`,
      unit: "AUC",
      samples: [recovery],
      ...(isNew ? { target: "within 0.002", met: Math.abs(recovery) <= 0.002 } : {}),
    });
    await clinicScenario(context, design, isNew, split.train, split.holdout, unique);
  }

  // The default per-source limit against a one-source burst.
  const limited = await Mesh.start({ name: "defaults", settings: { feedbackPerSourcePerHour: 200 } });
  try {
    const accepted = await limited.send(craftedRows(unique, 1_000, new Prng(3)), () => ATTACKER);
    context.note(
      `with the default FEEDBACK_PER_SOURCE_PER_HOUR (200): ${accepted} of 1000 burst rows accepted, ` +
        `${1_000 - accepted} refused with RESOURCE_EXHAUSTED`,
    );
  } finally {
    await limited.close();
  }

  const sklearn = sklearnOnSplit(split.train, split.holdout);
  const ours = DESIGNS[0] === undefined ? undefined : await Mesh.start(DESIGNS[0]);
  if (ours !== undefined) {
    try {
      const v1 = ours.retrain.registry.serving();
      const auc = v1?.metrics.rocAuc ?? Number.NaN;
      context.record({
        name: "honest holdout ROC AUC of the serving model (lab-profile split)",
        unit: "AUC",
        samples: [auc],
        ...(sklearn === undefined
          ? {}
          : { target: `>= sklearn ${sklearn.toFixed(4)} - 0.005`, met: auc >= sklearn - 0.005 }),
      });
      if (sklearn === undefined)
        context.note("scikit-learn comparison skipped: python3 with scikit-learn not found");
      else context.note(`scikit-learn LogisticRegression on the same split: ${sklearn.toFixed(4)}`);
    } finally {
      await ours.close();
    }
  }
}

/** A low-prevalence clinic's genuine feedback: how much of the log-loss gap it closes. */
async function clinicScenario(
  context: BenchContext,
  design: Design,
  isNew: boolean,
  trainSide: Dataset,
  holdoutSide: Dataset,
  unique: Dataset,
): Promise<void> {
  const random = new Prng(5);
  // Feedback from patients on the training side; the clinic is scored on patients whose lab
  // profiles are in the holdout, whom neither the model nor the feedback has seen.
  const feedback = clinicRows(trainSide, 1_000, 0.3, random);
  const patients = asDataset(clinicRows(holdoutSide, 4_000, 0.3, random));
  const sources = Array.from({ length: 10 }, (_, i) => `198.51.100.${20 + i}`);
  const mesh = await Mesh.start(design);
  try {
    const before = await mesh.served(unique);
    const started = performance.now();
    for (let start = 0; start < feedback.length; start += 100) {
      await mesh.send(feedback.slice(start, start + 100), (i) => sources[i % sources.length] ?? "");
    }
    // A clinic's genuine prevalence moves many answers: the change waits until an admin approves it.
    const approved = await mesh.approvePending("integrity bench: the clinic's genuine prevalence");
    if (approved !== undefined)
      context.note(`${design.name}, clinic: ${approved} waited for approval and was approved`);
    const after = await mesh.served(unique);
    const local = await clinicModel(asDataset(feedback));
    const llBefore = logLossOn(before.scorer, patients);
    const llAfter = logLossOn(after.scorer, patients);
    const llLocal = logLossOn(local, patients);
    const closed = (llBefore - llAfter) / (llBefore - llLocal);
    const states = mesh.states(sources);
    const quarantined = (states.get("quarantined") ?? 0) / feedback.length;
    context.note(
      `${design.name}, clinic (1,000 rows, 30% prevalence, 10 sources, 100 per retrain): log loss on its patients ` +
        `${llBefore.toFixed(3)} -> ${llAfter.toFixed(3)}; a model fitted on the clinic ${llLocal.toFixed(3)} ` +
        `(${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
    context.record({
      name: `${design.name}: clinic, share of the log-loss gap closed`,
      unit: "%",
      samples: [100 * closed],
      ...(isNew ? { target: ">= 60 %", met: closed >= 0.6 } : {}),
    });
    context.record({
      name: `${design.name}: clinic, original population ROC AUC change`,
      unit: "AUC",
      samples: [after.auc - before.auc],
      ...(isNew ? { target: ">= -0.01", met: after.auc - before.auc >= -0.01 } : {}),
    });
    context.record({
      name: `${design.name}: clinic, genuine feedback quarantined`,
      unit: "%",
      samples: [100 * quarantined],
      ...(isNew ? { target: "<= 2 %", met: quarantined <= 0.02 } : {}),
    });
  } finally {
    await mesh.close();
  }
}

export const section: BenchSection = {
  title: "Feedback integrity (issue 8): attacks, a clinic, recovery; this design vs the previous one",
  run,
};
