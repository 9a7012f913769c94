/**
 * Sites (issue 15), measured from outside on the real file with the default gate, approval
 * bound, screening, debounce and batch: a real RetrainService and a real Predict replica on
 * 127.0.0.1, predictions asked for a site through x-liver-site (the bench is on loopback, a
 * trusted gateway), verdicts sent by clinicians (x-forwarded-for). Where a target says
 * "changes approved", an admin approves every candidate waiting for approval through
 * ApproveModelVersion with the admin token, as a person reviewing the evidence would,
 * after every round of verdicts.
 *
 * A clinic's patients are, in truth, at another prevalence than the model says (true
 * log-odds = the model's + a shift putting the clinic at its prevalence); its figure is the
 * share of the log-loss gap closed on held-out patients of that clinic (expected log loss
 * against the true probabilities: gap = served - truth), answers asked for that site.
 *
 *  1. Two clinics at 30 % and 85 %, 1,000 genuine verdicts each from 10 clinicians each,
 *     changes approved: each clinic's gap closed; the default site's sensitivity and ROC AUC
 *     on the original holdout; candidates rejected (and by which rules), failed retrains.
 *  2. On the same system afterwards: five colluding sources inside clinic A (ranking kept,
 *     20 % prevalence claimed), change approved: clinic B's and the default site's sensitivity.
 *  3. Genuine clinics whose truth is near the model (small shifts): promoted without approval.
 *  4. One 30 % clinic's 1,000 verdicts on 5 fresh systems (2 with --quick): gap closed in each,
 *     failed retrains.
 *  5. A site with 60 verdicts: held-out log loss with its calibration vs none.
 *  6. Labelled feedback at the default site to the PROMOTED event, default gate (the retrain
 *     section, `--only retrain`, measures it with every candidate promoted).
 * SITES_BENCH_ONLY=two-clinics,small-shifts,fresh-systems,small-site runs only those parts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { pino } from "pino";
import { Diagnosis } from "../../services/gen/liver/v1/patient.js";
import {
  FeedbackVerdict,
  ModelVersionEventKind,
  RetrainServiceClient,
  type WatchModelVersionsResponse,
} from "../../services/gen/liver/v1/retrain_service.js";
import { startPredictServer, type PredictServer } from "../../services/predict/predict-server.js";
import { PredictTestClient } from "../../services/predict/testing/predict-clients.js";
import { vectorToPatient } from "../../services/predict/testing/patients.js";
import { DEFAULT_GATE_POLICY } from "../../services/retrain/quality-gate.js";
import {
  DEFAULT_RETRAIN_DEBOUNCE_MS,
  DEFAULT_RETRAIN_MIN_BATCH,
} from "../../services/retrain/retrain-config.js";
import { startRetrainServer, type RetrainServerHandle } from "../../services/retrain/retrain-server.js";
import { storeFilePath, type RetrainConfig } from "../../services/retrain/retrain-config.js";
import { openSqliteStore } from "../../services/retrain/store/sqlite-store.js";
import type { ModelVersionRecord } from "../../services/retrain/store/model-registry.js";
import type { RunOutcome } from "../../services/retrain/store/run-log.js";
import { testConfig, testSigner } from "../../services/retrain/testing/retrain-fixtures.js";
import type { Dataset } from "../../services/shared/data/dataset.js";
import { loadLpdCsv } from "../../services/shared/data/lpd-csv-loader.js";
import { Prng } from "../../services/shared/data/prng.js";
import { FEATURE_COUNT } from "../../services/shared/features/feature-schema.js";
import { splitHoldout } from "../../services/shared/model/holdout-split.js";
import { rocAuc } from "../../services/shared/model/metrics.js";
import { sigmoid } from "../../services/shared/model/scorer.js";
import { REAL_CSV_PATH, haveRealCsv } from "../../services/shared/testing/real-dataset.js";
import { type BenchContext, type BenchSection, median } from "./bench-harness.js";

export const order = 26;

const CLINICIANS = 10;
const ADMIN_TOKEN = "sites-bench-admin-token";
const COLLUDERS = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4", "203.0.113.5"];
/** Verdicts sent between two looks by the admin. */
const ROUND = 100;

/** What a site is answered for a set of rows. */
interface Answers {
  readonly probability: Float64Array;
  readonly diseased: Uint8Array;
}

/** A real RetrainService and Predict replica on the real file in a temp folder, default settings. */
class SitesMesh {
  readonly predict: PredictTestClient;
  readonly retrainClient: RetrainServiceClient;
  /** Versions an admin approved through ApproveModelVersion, in order. */
  readonly approved: ModelVersionRecord[] = [];
  readonly failedRuns: string[] = [];

  private constructor(
    private readonly dir: string,
    readonly retrain: RetrainServerHandle,
    private readonly replica: PredictServer,
    private readonly config: RetrainConfig,
  ) {
    this.predict = new PredictTestClient(`127.0.0.1:${replica.port}`, 60_000);
    this.retrainClient = new RetrainServiceClient(`127.0.0.1:${retrain.port}`, credentials.createInsecure());
    retrain.events.on("run-finished", (outcome: RunOutcome, record: ModelVersionRecord | undefined) => {
      if (outcome === "failed") this.failedRuns.push(record?.modelVersion ?? "(no candidate)");
    });
  }

  /** `minBatch` defaults to the deployment's (RETRAIN_MIN_BATCH). */
  static async start(minBatch = DEFAULT_RETRAIN_MIN_BATCH): Promise<SitesMesh> {
    const dir = mkdtempSync(path.join(tmpdir(), "sites-bench-"));
    const logger = pino({ level: "silent" });
    const keys = testSigner();
    const config = testConfig(dir, keys.key, {
      trainingCsv: REAL_CSV_PATH,
      adminToken: ADMIN_TOKEN,
      feedbackPerSourcePerHour: 0,
      gatePolicy: DEFAULT_GATE_POLICY,
      feedbackScreening: true,
      siteRecalibration: true,
      debounceMs: DEFAULT_RETRAIN_DEBOUNCE_MS,
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
    const mesh = new SitesMesh(dir, retrain, replica, config);
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

  /** What `site` is answered (probability and Predict's diagnosis) for every row of `rows`. */
  async answers(rows: Dataset, site: string | undefined): Promise<Answers> {
    this.predict.site = site;
    const probability = new Float64Array(rows.rows);
    const diseased = new Uint8Array(rows.rows);
    for (let start = 0; start < rows.rows; start += 1_000) {
      const patients = [];
      for (let row = start; row < Math.min(rows.rows, start + 1_000); row++)
        patients.push(vectorToPatient(rows.features, row));
      const answer = await this.predict.predictBatch(patients, { omitFeedbackTokens: true });
      answer.results.forEach((result, i) => {
        probability[start + i] = result.probability;
        diseased[start + i] = result.diagnosis === Diagnosis.DIAGNOSIS_LIVER_DISEASE ? 1 : 0;
      });
    }
    this.predict.site = undefined;
    return { probability, diseased };
  }

  /** Asks Predict for `site` (undefined: the default site), then sends the verdict making `sick` the label, from `source`. */
  async teach(
    features: Float64Array,
    sick: boolean,
    site: string | undefined,
    source: string,
  ): Promise<void> {
    this.predict.site = site;
    const answer = await this.predict.predict(vectorToPatient(features, 0));
    this.predict.site = undefined;
    const verdict =
      (answer.diagnosis === Diagnosis.DIAGNOSIS_LIVER_DISEASE) === sick
        ? FeedbackVerdict.FEEDBACK_VERDICT_CORRECT
        : FeedbackVerdict.FEEDBACK_VERDICT_WRONG;
    const metadata = new Metadata();
    if (site !== undefined) metadata.set("x-liver-site", site);
    metadata.set("x-forwarded-for", source);
    await new Promise<void>((resolve, reject) => {
      this.retrainClient.submitFeedback(
        { feedbackToken: answer.feedbackToken, verdict },
        metadata,
        { deadline: Date.now() + 60_000 },
        (error: ServiceError | null) => (error === null ? resolve() : reject(error)),
      );
    });
  }

  /**
   * Sends one verdict at the default site and times it to the PROMOTED event on the version
   * stream; undefined when its run ends otherwise (rejected, pending, failed).
   */
  async promotedAfter(features: Float64Array, sick: boolean, source: string): Promise<number | undefined> {
    await this.settle(false, "");
    const stream = this.retrainClient.watchModelVersions({ afterVersion: "" });
    try {
      const outcome = new Promise<number | undefined>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error("no retrain ended within 60 s of a verdict")),
          60_000,
        );
        stream.on("data", (event: WatchModelVersionsResponse) => {
          if (event.kind !== ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_PROMOTED) return;
          clearTimeout(timer);
          resolve(performance.now());
        });
        stream.on("error", (error: ServiceError) => {
          if (error.code !== status.CANCELLED) reject(error);
        });
        this.retrain.events.once("run-finished", (ended: RunOutcome) => {
          if (ended === "promoted") return;
          clearTimeout(timer);
          resolve(undefined);
        });
      });
      // The first event (CURRENT) arrives once subscribed; the verdict goes after it.
      await new Promise((resolve) => stream.once("data", resolve));
      const sent = performance.now();
      await this.teach(features, sick, undefined, source);
      const at = await outcome;
      return at === undefined ? undefined : at - sent;
    } finally {
      stream.cancel();
    }
  }

  /** An admin approves `modelVersion` through ApproveModelVersion with the admin token. */
  private async approve(modelVersion: string, reason: string): Promise<void> {
    const metadata = new Metadata();
    metadata.set("authorization", `Bearer ${ADMIN_TOKEN}`);
    await new Promise<void>((resolve, reject) => {
      this.retrainClient.approveModelVersion(
        { modelVersion, reason },
        metadata,
        { deadline: Date.now() + 60_000 },
        (error: ServiceError | null) => (error === null ? resolve() : reject(error)),
      );
    });
  }

  /**
   * Waits for every queued retrain; with `approve`, an admin then approves the candidate
   * waiting (if any) and the wait repeats until none waits; then waits for the replica.
   */
  async settle(approve: boolean, reason: string): Promise<void> {
    for (;;) {
      // A run may be queued by the last acknowledgement just after this is called.
      await new Promise((resolve) => setTimeout(resolve, DEFAULT_RETRAIN_DEBOUNCE_MS + 50));
      await this.retrain.scheduler.whenIdle();
      const pending = this.retrain.registry.pending();
      if (!approve || pending === undefined) break;
      await this.approve(pending.modelVersion, reason);
      this.approved.push(pending);
    }
    await this.untilServing();
  }

  /** Stored feedback of `site` by state and kind of reason, in words (what screening held back). */
  states(site: string): string {
    const db = openSqliteStore(storeFilePath(this.config), { readonly: true });
    try {
      const counts = new Map<string, number>();
      const rows = db
        .prepare<[string], { state: string; reason: string }>(
          "SELECT state, state_reason AS reason FROM feedback WHERE site = ?",
        )
        .all(site);
      for (const { state, reason } of rows) {
        const kind = reason.split(":")[0] ?? "";
        const key = kind === "" ? state : `${state} (${kind})`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      return [...counts]
        .sort((x, y) => y[1] - x[1])
        .map(([key, n]) => `${n} ${key}`)
        .join(", ");
    } finally {
      db.close();
    }
  }

  /** Every version after v1, sorted into what the gate and the admin made of it. */
  outcomes(): VersionOutcomes {
    const versions = this.retrain.registry.list().filter((v) => v.parentVersion !== undefined);
    const rejected = versions.filter(
      (v) =>
        v.status === "rejected" &&
        v.decision?.decision !== "superseded" &&
        v.decision?.decision !== "rejected",
    );
    const rules = new Map<string, number>();
    for (const v of rejected)
      for (const check of v.gateChecks)
        if (!check.passed && !check.rule.startsWith("served:"))
          rules.set(check.rule, (rules.get(check.rule) ?? 0) + 1);
    const approvedIds = new Set(this.approved.map((v) => v.modelVersion));
    const withEvidence = this.approved.filter(
      (v) => v.approval?.required === true && v.approval.changes.length > 0,
    ).length;
    return {
      candidates: versions.length,
      automatic: versions.filter(
        (v) => v.promotedAtMs !== undefined && !approvedIds.has(v.modelVersion) && v.decision === undefined,
      ).length,
      approved: this.approved.length,
      approvedWithEvidence: withEvidence,
      superseded: versions.filter((v) => v.decision?.decision === "superseded").length,
      stillPending: versions.filter((v) => v.status === "pending").length,
      rejected: rejected.length,
      rules,
      rejectedExample: rejected[0]?.reason,
    };
  }

  async close(): Promise<void> {
    this.predict.close();
    this.retrainClient.close();
    await this.replica.close(500);
    await this.retrain.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** What became of a system's candidates. */
interface VersionOutcomes {
  readonly candidates: number;
  /** Promoted without anyone's approval. */
  readonly automatic: number;
  readonly approved: number;
  /** Approved versions that carried the served-answer evidence that made them wait. */
  readonly approvedWithEvidence: number;
  readonly superseded: number;
  readonly stillPending: number;
  /** Rejected by the gate (not superseded, not by a person). */
  readonly rejected: number;
  /** Failed gate rules among the rejected, with counts. */
  readonly rules: ReadonlyMap<string, number>;
  readonly rejectedExample: string | undefined;
}

function describe(outcomes: VersionOutcomes): string {
  const rules = [...outcomes.rules].map(([rule, n]) => `${rule} x${n}`).join(", ");
  return (
    `${outcomes.candidates} candidates: ${outcomes.automatic} promoted without approval, ` +
    `${outcomes.approved} approved (${outcomes.approvedWithEvidence} with evidence), ${outcomes.superseded} superseded, ` +
    `${outcomes.stillPending} still pending, ${outcomes.rejected} rejected by the gate` +
    (outcomes.rejected > 0 ? ` (rules: ${rules}; e.g. ${outcomes.rejectedExample ?? ""})` : "")
  );
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

const shifted = (q: number, shift: number): number => sigmoid(Math.log(q / (1 - q)) + shift);

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

const rowOf = (rows: Dataset, row: number): Float64Array =>
  rows.features.slice(row * FEATURE_COUNT, (row + 1) * FEATURE_COUNT);

/** Share of the labelled-diseased rows Predict answered diseased. */
function sensitivity(labels: Uint8Array, answers: Answers): number {
  let positives = 0;
  let found = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 1) continue;
    positives++;
    if (answers.diseased[i] === 1) found++;
  }
  return found / positives;
}

/** One verdict to send: a patient, the label the clinician gives, where and by whom. */
interface Verdict {
  readonly features: Float64Array;
  readonly sick: boolean;
  readonly site: string;
  readonly source: string;
}

/** Sends verdicts 25 in flight; after every ROUND the system settles (and the admin looks). */
async function sendAll(
  mesh: SitesMesh,
  verdicts: readonly Verdict[],
  approve: boolean,
  reason: string,
): Promise<void> {
  for (let round = 0; round < verdicts.length; round += ROUND) {
    const chunk = verdicts.slice(round, round + ROUND);
    for (let start = 0; start < chunk.length; start += 25) {
      await Promise.all(
        chunk.slice(start, start + 25).map((v) => mesh.teach(v.features, v.sick, v.site, v.source)),
      );
    }
    await mesh.settle(approve, reason);
  }
}

/** A clinic whose truth is the model's answers to it shifted to `prevalence`. */
class Clinic {
  private constructor(
    readonly site: string,
    readonly heldOut: Dataset,
    private readonly truth: Float64Array,
    private readonly before: Float64Array,
    readonly verdicts: readonly Verdict[],
  ) {}

  /** Draws `count` genuine verdicts from the clinic's truth, from CLINICIANS clinicians at `firstSource`. */
  static async open(
    mesh: SitesMesh,
    site: string,
    patients: Dataset,
    heldOut: Dataset,
    count: number,
    prevalence: number,
    seed: number,
    firstSource: number,
  ): Promise<Clinic> {
    const served = (await mesh.answers(patients, site)).probability;
    const before = (await mesh.answers(heldOut, site)).probability;
    const shift = shiftTo(served, prevalence);
    const truth = Float64Array.from(before, (q) => shifted(q, shift));
    const prng = new Prng(seed);
    const verdicts = Array.from({ length: count }, (_, row) => ({
      features: rowOf(patients, row),
      sick: prng.nextFloat() < shifted(served[row] ?? 0.5, shift),
      site,
      source: `198.51.100.${firstSource + (row % CLINICIANS)}`,
    }));
    return new Clinic(site, heldOut, truth, before, verdicts);
  }

  /** Share of the clinic's expected log-loss gap closed by what it is answered now. */
  async gapClosed(mesh: SitesMesh): Promise<{ closed: number; before: number; after: number }> {
    const after = (await mesh.answers(this.heldOut, this.site)).probability;
    const best = expectedLogLoss(this.truth, this.truth);
    const lossBefore = expectedLogLoss(this.truth, this.before);
    const lossAfter = expectedLogLoss(this.truth, after);
    return { closed: (lossBefore - lossAfter) / (lossBefore - best), before: lossBefore, after: lossAfter };
  }
}

/** Alternates the verdicts of several lists (clinics sending at the same time). */
function interleave(lists: readonly (readonly Verdict[])[]): Verdict[] {
  const out: Verdict[] = [];
  const longest = Math.max(...lists.map((l) => l.length));
  for (let i = 0; i < longest; i++)
    for (const list of lists) if (i < list.length) out.push(list[i] as Verdict);
  return out;
}

/** Calibration methods the serving version chose per site, in words. */
function methods(mesh: SitesMesh): string {
  const serving = mesh.retrain.registry.serving();
  const sites = serving?.siteCalibrations?.sites ?? [];
  return sites
    .map(
      (s) =>
        `${s.site}: ${s.method} (a ${s.intercept.toFixed(2)}, b ${s.slope.toFixed(2)}, shrinkage ${s.shrinkage.toFixed(2)}, ${s.rows} rows)`,
    )
    .join("; ");
}

interface Pools {
  readonly train: Dataset;
  readonly holdout: Dataset;
  /** Distinct shuffled rows of the training side, taken in order by `take`. */
  take(count: number): Dataset;
}

const pct = (share: number): string => `${(100 * share).toFixed(1)} %`;

/** Figures 1 and 2: two clinics, changes approved; then colluders inside clinic A, approved. */
async function twoClinics(context: BenchContext, pools: Pools, heldOut: Dataset): Promise<void> {
  const mesh = await SitesMesh.start();
  try {
    const started = performance.now();
    const defaultBefore = await mesh.answers(pools.holdout, undefined);
    const a = await Clinic.open(mesh, "clinic-a", pools.take(1_000), heldOut, 1_000, 0.3, 1, 1);
    const b = await Clinic.open(mesh, "clinic-b", pools.take(1_000), heldOut, 1_000, 0.85, 2, 21);
    await sendAll(
      mesh,
      interleave([a.verdicts, b.verdicts]),
      true,
      "sites bench: the clinics' genuine prevalence",
    );
    const outcomes = mesh.outcomes();
    context.note(
      `two clinics, 2,000 verdicts (${((performance.now() - started) / 1000).toFixed(0)} s): ${describe(outcomes)}; ` +
        `failed retrains: ${mesh.failedRuns.length}; serving ${mesh.retrain.registry.serving()?.modelVersion ?? "?"}: ${methods(mesh)}; ` +
        `clinic-a feedback: ${mesh.states("clinic-a")}; clinic-b: ${mesh.states("clinic-b")}`,
    );
    for (const clinic of [a, b]) {
      const gap = await clinic.gapClosed(mesh);
      context.note(
        `${clinic.site} expected log loss ${gap.before.toFixed(4)} -> ${gap.after.toFixed(4)} (the truth's own is the floor)`,
      );
      context.record({
        name: `two clinics, changes approved: ${clinic.site} (${clinic === a ? "30" : "85"} %) log-loss gap closed`,
        unit: "%",
        samples: [100 * gap.closed],
        target: ">= 70 %",
        met: gap.closed >= 0.7,
      });
    }
    const defaultAfter = await mesh.answers(pools.holdout, undefined);
    const sensitivityChange =
      100 *
      (sensitivity(pools.holdout.labels, defaultAfter) - sensitivity(pools.holdout.labels, defaultBefore));
    const aucChange =
      rocAuc(pools.holdout.labels, defaultAfter.probability) -
      rocAuc(pools.holdout.labels, defaultBefore.probability);
    context.record({
      name: "two clinics: default site on the original holdout, sensitivity change",
      unit: "points",
      samples: [sensitivityChange],
      target: "within 1 point",
      met: Math.abs(sensitivityChange) <= 1,
    });
    context.record({
      name: "two clinics: default site on the original holdout, ROC AUC change",
      unit: "",
      samples: [aucChange],
      target: "within 0.005",
      met: Math.abs(aucChange) <= 0.005,
    });
    context.record({
      name: "two clinics: candidates rejected by the gate (learning never frozen)",
      unit: "versions",
      samples: [outcomes.rejected],
      target: "0 (each promoted or pending with evidence)",
      met:
        outcomes.rejected === 0 &&
        outcomes.stillPending === 0 &&
        outcomes.approvedWithEvidence === outcomes.approved &&
        mesh.failedRuns.length === 0,
    });

    // Colluders inside clinic A: real patients, clinic A's ranking kept, 20 % prevalence claimed.
    const bBefore = await mesh.answers(pools.holdout, "clinic-b");
    const defaultMid = await mesh.answers(pools.holdout, undefined);
    const aBefore = await mesh.answers(pools.holdout, "clinic-a");
    const pool = pools.take(2_000);
    const ranking = (await mesh.answers(pool, "clinic-a")).probability;
    const cut = [...ranking].sort((x, y) => y - x)[Math.floor(0.2 * pool.rows)] ?? 0.5;
    const random = new Prng(15);
    const collusion = Array.from({ length: 500 }, (_, i) => {
      const row = Math.floor(random.nextFloat() * pool.rows);
      return {
        features: rowOf(pool, row),
        sick: (ranking[row] ?? 0) > cut,
        site: "clinic-a",
        source: COLLUDERS[i % COLLUDERS.length] ?? "",
      };
    });
    const approvedBefore = mesh.approved.length;
    await sendAll(mesh, collusion, true, "sites bench: approved without spotting the collusion");
    const bAfter = await mesh.answers(pools.holdout, "clinic-b");
    const defaultLast = await mesh.answers(pools.holdout, undefined);
    const aAfter = await mesh.answers(pools.holdout, "clinic-a");
    const labels = pools.holdout.labels;
    context.note(
      `five colluders inside clinic-a, 500 verdicts, 20 % claimed, ${mesh.approved.length - approvedBefore} approval(s): ` +
        `clinic-a sensitivity ${pct(sensitivity(labels, aBefore))} -> ${pct(sensitivity(labels, aAfter))} (its own site: the approver's responsibility); ` +
        `${describe(mesh.outcomes())}; serving: ${methods(mesh)}`,
    );
    for (const [name, was, now] of [
      ["clinic-b", bBefore, bAfter],
      ["the default site", defaultMid, defaultLast],
    ] as const) {
      const change = 100 * (sensitivity(labels, now) - sensitivity(labels, was));
      context.record({
        name: `colluders inside clinic-a, approved: ${name}'s sensitivity change`,
        unit: "points",
        samples: [change],
        target: "within 1 point",
        met: Math.abs(change) <= 1,
      });
    }
  } finally {
    await mesh.close();
  }
}

/** Figure 3: genuine clinics whose truth is near the model: promoted without approval. */
async function smallShifts(context: BenchContext, pools: Pools, heldOut: Dataset): Promise<void> {
  const mesh = await SitesMesh.start();
  try {
    const served = (await mesh.answers(pools.holdout, undefined)).probability;
    const mean = served.reduce((sum, p) => sum + p, 0) / served.length;
    const c = await Clinic.open(mesh, "clinic-c", pools.take(300), heldOut, 300, mean, 3, 41);
    const d = await Clinic.open(mesh, "clinic-d", pools.take(300), heldOut, 300, mean - 0.03, 4, 61);
    await sendAll(mesh, interleave([c.verdicts, d.verdicts]), false, "");
    const outcomes = mesh.outcomes();
    const waiting = mesh.retrain.registry.pending();
    context.note(
      `small shifts (clinic-c at the model's mean ${pct(mean)}, clinic-d 3 points below, 300 verdicts each, nobody approves): ` +
        `${describe(outcomes)}; failed retrains: ${mesh.failedRuns.length}` +
        (waiting === undefined ? "" : `; ${waiting.modelVersion} waits: ${waiting.reason}`) +
        `; serving: ${methods(mesh)}`,
    );
    context.record({
      name: "genuine small shifts: candidates promoted without approval",
      unit: "versions",
      samples: [outcomes.automatic],
      target: `all ${outcomes.candidates} (promoted as today)`,
      met: outcomes.candidates > 0 && outcomes.automatic === outcomes.candidates,
    });

    // One labelled verdict at a time at the default site (its genuine labels), default gate.
    const rows = pools.take(context.quick ? 5 : 20);
    const latencies: number[] = [];
    let notPromoted = 0;
    for (let row = 0; row < rows.rows; row++) {
      const took = await mesh.promotedAfter(
        rowOf(rows, row),
        rows.labels[row] === 1,
        `198.51.100.${121 + (row % 4)}`,
      );
      if (took === undefined) notPromoted++;
      else latencies.push(took);
    }
    context.note(
      `labelled feedback -> PROMOTED at the default site, default gate and debounce (${DEFAULT_RETRAIN_DEBOUNCE_MS} ms): ` +
        `${latencies.length} of ${rows.rows} verdicts promoted, ${notPromoted} ended otherwise; the gate-free figure is \`--only retrain\`'s`,
    );
    if (latencies.length > 0)
      context.record({
        name: "labelled feedback -> PROMOTED event, default gate, no approval needed",
        unit: "ms",
        samples: latencies,
        target: "<= 500 ms",
        met: median(latencies) <= 500,
      });
  } finally {
    await mesh.close();
  }
}

/** Figure 4: the same 30 % clinic's verdicts on fresh systems. */
async function freshSystems(context: BenchContext, pools: Pools, heldOut: Dataset): Promise<void> {
  const systems = context.quick ? 2 : 5;
  const patients = pools.take(1_000);
  const closed: number[] = [];
  let failed = 0;
  for (let i = 0; i < systems; i++) {
    const mesh = await SitesMesh.start();
    try {
      const started = performance.now();
      const clinic = await Clinic.open(mesh, "clinic-e", patients, heldOut, 1_000, 0.3, 5, 81);
      await sendAll(mesh, clinic.verdicts, true, "sites bench: the clinic's genuine prevalence");
      const gap = await clinic.gapClosed(mesh);
      closed.push(100 * gap.closed);
      failed += mesh.failedRuns.length;
      context.note(
        `fresh system ${i + 1}: ${pct(gap.closed)} of the gap closed (${((performance.now() - started) / 1000).toFixed(0)} s); ` +
          `${describe(mesh.outcomes())}; failed retrains: ${mesh.failedRuns.length}; serving: ${methods(mesh)}` +
          (i === 0 ? `; feedback: ${mesh.states("clinic-e")}` : ""),
      );
    } finally {
      await mesh.close();
    }
  }
  const passing = closed.filter((c) => c >= 60).length;
  context.record({
    name: `one 30 % clinic, 1,000 verdicts, ${systems} fresh systems: gap closed`,
    unit: "%",
    samples: closed,
    target: `>= 60 % in ${systems} of ${systems}${context.quick ? " (--quick: 2 systems, not 5)" : ""}`,
    met: passing === systems,
  });
  context.record({
    name: `one 30 % clinic on ${systems} fresh systems: failed retrains`,
    unit: "runs",
    samples: [failed],
    target: "0",
    met: failed === 0,
  });
}

/** Figure 5: a site with 60 verdicts (screening may hold a few back). */
async function smallSite(context: BenchContext, pools: Pools, heldOut: Dataset): Promise<void> {
  const mesh = await SitesMesh.start();
  try {
    const clinic = await Clinic.open(mesh, "clinic-small", pools.take(60), heldOut, 60, 0.3, 2, 101);
    await sendAll(mesh, clinic.verdicts, true, "sites bench: the small site's genuine prevalence");
    const gap = await clinic.gapClosed(mesh);
    const change = gap.after - gap.before;
    context.note(`clinic-small: ${describe(mesh.outcomes())}; serving: ${methods(mesh)}`);
    context.record({
      name: "a site with 60 verdicts: held-out expected log loss, its calibration minus none",
      unit: "",
      samples: [change],
      target: "<= 0 (never worse)",
      met: change <= 1e-9,
    });
  } finally {
    await mesh.close();
  }
}

async function run(context: BenchContext): Promise<void> {
  if (!haveRealCsv) {
    context.note(`skipped: the real dataset is not at ${REAL_CSV_PATH}`);
    return;
  }
  const { dataset } = await loadLpdCsv(REAL_CSV_PATH);
  const { train, holdout } = splitHoldout(dataset);
  const shuffled = Array.from({ length: train.rows }, (_, i) => i);
  const shuffle = new Prng(15);
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(shuffle.nextFloat() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j] ?? 0, shuffled[i] ?? 0];
  }
  let next = 0;
  const pools: Pools = {
    train,
    holdout,
    take(count) {
      if (next + count > shuffled.length)
        throw new Error("the training side has too few rows for the sites bench");
      const rows = rowsOf(train, shuffled.slice(next, next + count));
      next += count;
      return rows;
    },
  };
  // The clinics' held-out patients: the same rows for every clinic, never sent as feedback.
  const heldOut = pools.take(2_000);
  const only = process.env["SITES_BENCH_ONLY"];
  const parts: readonly [string, (c: BenchContext, p: Pools, h: Dataset) => Promise<void>][] = [
    ["two-clinics", twoClinics],
    ["small-shifts", smallShifts],
    ["fresh-systems", freshSystems],
    ["small-site", smallSite],
  ];
  for (const [name, part] of parts)
    if (only === undefined || only.split(",").includes(name)) await part(context, pools, heldOut);
}

export const section: BenchSection = {
  title: "Sites (issue 15): per-site calibration and approval from outside, real file, default settings",
  run,
};
