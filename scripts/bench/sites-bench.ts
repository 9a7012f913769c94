/**
 * Sites (issue 15), measured from outside on the real file: a real RetrainService and a real
 * Predict replica on 127.0.0.1, predictions asked for a site through x-liver-site (the bench
 * is on loopback, a trusted gateway), verdicts sent by ten clinicians (x-forwarded-for).
 *
 *  - One clinic whose patients are, in truth, at a lower prevalence than the model says
 *    (true log-odds = the model's + a shift putting the clinic at 30 %): 1,000 verdicts, then
 *    the share of the log-loss gap closed on held-out patients of that clinic (expected log
 *    loss against the true probabilities: gap = served - truth), asked for that site.
 *  - The default site's sensitivity and ROC AUC on the original holdout, before and after.
 *  - A site with 60 verdicts: held-out log loss with its calibration vs none.
 * Changes that need approval: when the build has ApproveModelVersion, pending versions are
 * approved before measuring (the approval flow's branch); without it nothing waits.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { pino } from "pino";
import { Diagnosis } from "../../services/gen/liver/v1/patient.js";
import { FeedbackVerdict, RetrainServiceClient } from "../../services/gen/liver/v1/retrain_service.js";
import { startPredictServer, type PredictServer } from "../../services/predict/predict-server.js";
import { PredictTestClient } from "../../services/predict/testing/predict-clients.js";
import { vectorToPatient } from "../../services/predict/testing/patients.js";
import { startRetrainServer, type RetrainServerHandle } from "../../services/retrain/retrain-server.js";
import { testConfig, testSigner } from "../../services/retrain/testing/retrain-fixtures.js";
import type { Dataset } from "../../services/shared/data/dataset.js";
import { loadLpdCsv } from "../../services/shared/data/lpd-csv-loader.js";
import { Prng } from "../../services/shared/data/prng.js";
import { FEATURE_COUNT } from "../../services/shared/features/feature-schema.js";
import { splitHoldout } from "../../services/shared/model/holdout-split.js";
import { rocAuc } from "../../services/shared/model/metrics.js";
import { sigmoid } from "../../services/shared/model/scorer.js";
import { REAL_CSV_PATH, haveRealCsv } from "../../services/shared/testing/real-dataset.js";
import type { BenchContext, BenchSection } from "./bench-harness.js";

const CLINICIANS = 10;

/** A real RetrainService and Predict replica on the real file in a temp folder. */
class SitesMesh {
  readonly predict: PredictTestClient;
  readonly retrainClient: RetrainServiceClient;

  private constructor(
    private readonly dir: string,
    readonly retrain: RetrainServerHandle,
    private readonly replica: PredictServer,
  ) {
    this.predict = new PredictTestClient(`127.0.0.1:${replica.port}`, 60_000);
    this.retrainClient = new RetrainServiceClient(`127.0.0.1:${retrain.port}`, credentials.createInsecure());
  }

  static async start(minBatch: number): Promise<SitesMesh> {
    const dir = mkdtempSync(path.join(tmpdir(), "sites-bench-"));
    const logger = pino({ level: "silent" });
    const keys = testSigner();
    const config = testConfig(dir, keys.key, {
      trainingCsv: REAL_CSV_PATH,
      feedbackPerSourcePerHour: 0,
      minBatch,
      tls: undefined,
    });
    const retrain = await startRetrainServer(config, logger, { defaultMetrics: false });
    await retrain.scheduler.whenIdle();
    const replica = await startPredictServer(
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
        explainPredictions: false,
      },
      logger,
    );
    const mesh = new SitesMesh(dir, retrain, replica);
    await mesh.untilServing();
    return mesh;
  }

  /** Waits until the replica serves the registry's serving version. */
  async untilServing(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const wanted = this.retrain.registry.serving()?.modelVersion ?? "";
      if (wanted !== "" && (await this.predict.modelInfo()).modelVersion === wanted) return;
      if (Date.now() > deadline) throw new Error(`the replica did not load ${wanted} within 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Served probabilities for every row of `rows` as `site` is answered. */
  async answers(rows: Dataset, site: string | undefined): Promise<Float64Array> {
    this.predict.site = site;
    const out = new Float64Array(rows.rows);
    for (let start = 0; start < rows.rows; start += 1_000) {
      const patients = [];
      for (let row = start; row < Math.min(rows.rows, start + 1_000); row++)
        patients.push(vectorToPatient(rows.features, row));
      const answer = await this.predict.predictBatch(patients, { omitFeedbackTokens: true });
      answer.results.forEach((result, i) => (out[start + i] = result.probability));
    }
    this.predict.site = undefined;
    return out;
  }

  /** Asks Predict for `site`, then sends the verdict making `sick` the label, from clinician `who`. */
  async teach(features: Float64Array, sick: boolean, site: string, who: number): Promise<void> {
    this.predict.site = site;
    const answer = await this.predict.predict(vectorToPatient(features, 0));
    this.predict.site = undefined;
    const verdict =
      (answer.diagnosis === Diagnosis.DIAGNOSIS_LIVER_DISEASE) === sick
        ? FeedbackVerdict.FEEDBACK_VERDICT_CORRECT
        : FeedbackVerdict.FEEDBACK_VERDICT_WRONG;
    const metadata = new Metadata();
    metadata.set("x-liver-site", site);
    metadata.set("x-forwarded-for", `198.51.100.${who + 1}`);
    await new Promise<void>((resolve, reject) => {
      this.retrainClient.submitFeedback(
        { feedbackToken: answer.feedbackToken, verdict },
        metadata,
        { deadline: Date.now() + 60_000 },
        (error: ServiceError | null) => (error === null ? resolve() : reject(error)),
      );
    });
  }

  /** Waits for every queued retrain, approves pending versions when the build can, and for the replica. */
  async settle(context: BenchContext): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 50));
    await this.retrain.scheduler.whenIdle();
    // A status this build does not know is the approval flow's PENDING_APPROVAL.
    const known: readonly string[] = ["serving", "retired", "rejected"];
    const pending = this.retrain.registry.list().filter((v) => !known.includes(v.status));
    if (pending.length > 0) {
      context.note(
        `${pending.length} version(s) wait for approval; this build has no ApproveModelVersion, so they were measured unapproved (as served: not at all)`,
      );
    }
    await this.untilServing();
  }

  async close(): Promise<void> {
    this.predict.close();
    this.retrainClient.close();
    await this.replica.close(500);
    await this.retrain.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Mean expected log loss of answers `q` when the truth is `p` (no label noise in the figure). */
function expectedLogLoss(p: Float64Array, q: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i] ?? 0;
    const qi = Math.min(Math.max(q[i] ?? 0, 1e-12), 1 - 1e-12);
    sum -= pi * Math.log(qi) + (1 - pi) * Math.log(1 - qi);
  }
  return sum / p.length;
}

/** The shift of log-odds that puts the mean of sigmoid(logit(q) + shift) at `prevalence`. */
function shiftTo(q: Float64Array, prevalence: number): number {
  let low = -10;
  let high = 10;
  for (let k = 0; k < 60; k++) {
    const mid = (low + high) / 2;
    let mean = 0;
    for (const qi of q) mean += sigmoid(Math.log(qi / (1 - qi)) + mid);
    if (mean / q.length < prevalence) low = mid;
    else high = mid;
  }
  return (low + high) / 2;
}

function rowsOf(dataset: Dataset, indexes: readonly number[]): Dataset {
  const features = new Float64Array(indexes.length * FEATURE_COUNT);
  const labels = new Uint8Array(indexes.length);
  indexes.forEach((from, to) => {
    features.set(
      dataset.features.subarray(from * FEATURE_COUNT, (from + 1) * FEATURE_COUNT),
      to * FEATURE_COUNT,
    );
    labels[to] = dataset.labels[from] ?? 0;
  });
  return { ...dataset, rows: indexes.length, features, labels };
}

function sensitivity(labels: Uint8Array, probabilities: Float64Array, threshold: number): number {
  let positives = 0;
  let found = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 1) continue;
    positives++;
    if ((probabilities[i] ?? 0) >= threshold) found++;
  }
  return found / positives;
}

/** Sends `count` verdicts for `site` from `patients` labelled from the truth, then settles. */
async function clinicRun(
  context: BenchContext,
  mesh: SitesMesh,
  site: string,
  patients: Dataset,
  heldOut: Dataset,
  count: number,
  prevalence: number,
  seed: number,
): Promise<{ closed: number; before: number; after: number }> {
  const before = await mesh.answers(heldOut, site);
  const shift = shiftTo(await mesh.answers(patients, site), prevalence);
  const truth = Float64Array.from(before, (q) => sigmoid(Math.log(q / (1 - q)) + shift));
  const prng = new Prng(seed);
  const served = await mesh.answers(patients, site);
  for (let start = 0; start < count; start += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, count - start) }, (_, k) => {
        const row = start + k;
        const q = served[row] ?? 0.5;
        const sick = prng.nextFloat() < sigmoid(Math.log(q / (1 - q)) + shift);
        return mesh.teach(
          patients.features.slice(row * FEATURE_COUNT, (row + 1) * FEATURE_COUNT),
          sick,
          site,
          row % CLINICIANS,
        );
      }),
    );
  }
  await mesh.settle(context);
  const after = await mesh.answers(heldOut, site);
  const best = expectedLogLoss(truth, truth);
  const lossBefore = expectedLogLoss(truth, before);
  const lossAfter = expectedLogLoss(truth, after);
  return { closed: (lossBefore - lossAfter) / (lossBefore - best), before: lossBefore, after: lossAfter };
}

async function run(context: BenchContext): Promise<void> {
  if (!haveRealCsv) {
    context.note(`skipped: the real dataset is not at ${REAL_CSV_PATH}`);
    return;
  }
  const { dataset } = await loadLpdCsv(REAL_CSV_PATH);
  const { train, holdout } = splitHoldout(dataset);
  const order = Array.from({ length: train.rows }, (_, i) => i);
  const shuffle = new Prng(15);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(shuffle.nextFloat() * (i + 1));
    [order[i], order[j]] = [order[j] ?? 0, order[i] ?? 0];
  }
  const clinicPatients = rowsOf(train, order.slice(0, 1_000));
  const clinicHeldOut = rowsOf(train, order.slice(1_000, 3_000));
  const smallPatients = rowsOf(train, order.slice(3_000, 3_060));

  const mesh = await SitesMesh.start(1_000);
  try {
    const threshold = mesh.retrain.registry.serving()?.metrics.threshold ?? 0.5;
    const defaultBefore = await mesh.answers(holdout, undefined);
    const clinic = await clinicRun(context, mesh, "clinic-a", clinicPatients, clinicHeldOut, 1_000, 0.3, 1);
    context.record({
      name: "clinic at 30 %, 1,000 verdicts from 10 clinicians: log-loss gap closed (held-out patients, answers for its site)",
      unit: "%",
      samples: [100 * clinic.closed],
      target: ">= 70 %",
      met: clinic.closed >= 0.7,
    });
    context.note(
      `clinic-a expected log loss ${clinic.before.toFixed(4)} -> ${clinic.after.toFixed(4)} (truth's own: the floor)`,
    );
    const defaultAfter = await mesh.answers(holdout, undefined);
    const sensitivityChange =
      100 *
      (sensitivity(holdout.labels, defaultAfter, threshold) -
        sensitivity(holdout.labels, defaultBefore, threshold));
    const aucChange = rocAuc(holdout.labels, defaultAfter) - rocAuc(holdout.labels, defaultBefore);
    context.record({
      name: "default site on the original holdout after clinic-a's feedback: sensitivity change",
      unit: "points",
      samples: [sensitivityChange],
      target: "within 1 point",
      met: Math.abs(sensitivityChange) <= 1,
    });
    context.record({
      name: "default site on the original holdout after clinic-a's feedback: ROC AUC change",
      unit: "",
      samples: [aucChange],
      target: "within 0.005",
      met: Math.abs(aucChange) <= 0.005,
    });
  } finally {
    await mesh.close();
  }

  const small = await SitesMesh.start(60);
  try {
    const result = await clinicRun(context, small, "clinic-small", smallPatients, clinicHeldOut, 60, 0.3, 2);
    const change = result.after - result.before;
    context.record({
      name: "a site with 60 verdicts: held-out expected log loss, its calibration minus none",
      unit: "",
      samples: [change],
      target: "<= 0 (never worse)",
      met: change <= 1e-9,
    });
  } finally {
    await small.close();
  }
}

export const section: BenchSection = {
  title: "Sites (issue 15): per-site calibration from outside, real file",
  run,
};
