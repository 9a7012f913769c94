import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { RpcMetrics } from "../shared/grpc/rpc-metrics.js";
import type { SiteCalibrationDrift } from "./site-calibration-drift.js";
import type { VersionVerdicts } from "./version-verdicts.js";
import type { StoredVerdict } from "./store/feedback-store.js";
import type { RunOutcome } from "./store/run-log.js";
import type { SchedulerState } from "./retrain-scheduler.js";

/** Live values the gauges read at scrape time. */
export interface RetrainGaugeSources {
  pendingLabelled(): number;
  subscribers(): number;
  laggingSubscribers(): number;
  state(): SchedulerState;
}

const VERDICT_LABEL: Record<StoredVerdict, string> = { 1: "correct", 2: "wrong", 3: "unknown" };
const STATES: readonly SchedulerState[] = ["idle", "scheduled", "running"];
const RETRAIN_RPC_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 10];

/**
 * The RetrainService's Prometheus metrics in a registry of its own (several servers can
 * run in one test process): feedback by verdict, runs by outcome, training duration, the
 * serving version, the queue and the version stream; and per-method calls and latency
 * (liver_retrain_requests_total, liver_retrain_handler_duration_seconds), counted by the
 * middleware (rpc-middleware.ts).
 */
export class RetrainMetrics {
  readonly registry = new Registry();
  /** Calls and latency per method (buckets up to 10 s: SubmitFeedback waits for its group commit). */
  readonly rpc = new RpcMetrics(this.registry, "liver_retrain", RETRAIN_RPC_BUCKETS);
  private readonly feedback: Counter<"verdict">;
  private readonly duplicates: Counter;
  private readonly sourceLimited: Counter;
  private readonly quarantined: Counter;
  private readonly runs: Counter<"outcome" | "trigger">;
  private readonly trainingSeconds: Histogram<"outcome">;
  private readonly servingInfo: Gauge<"model_version">;
  private readonly servingNumber: Gauge;
  private readonly commitBatch: Histogram;
  private readonly commitSeconds: Histogram;
  private readonly pending: Gauge;
  private readonly pendingSince: Gauge;
  private sources: RetrainGaugeSources | undefined;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.feedback = new Counter({
      name: "liver_retrain_feedback_total",
      help: "Feedback stored, by verdict (duplicates not included).",
      labelNames: ["verdict"],
      registers,
    });
    this.duplicates = new Counter({
      name: "liver_retrain_feedback_duplicates_total",
      help: "Feedback refused as a repeat for a prediction that already had one.",
      registers,
    });
    this.sourceLimited = new Counter({
      name: "liver_retrain_feedback_source_limited_total",
      help: "Labelled feedback refused (RESOURCE_EXHAUSTED) because its source reached FEEDBACK_PER_SOURCE_PER_HOUR.",
      registers,
    });
    this.pending = new Gauge({
      name: "liver_retrain_pending_approval",
      help: "1 while a candidate waits for an admin's approval (ApproveModelVersion or RejectModelVersion), else 0.",
      registers,
    });
    this.pendingSince = new Gauge({
      name: "liver_retrain_pending_approval_since_seconds",
      help: "Unix time the waiting candidate was recorded; 0 when none waits.",
      registers,
    });
    this.quarantined = new Counter({
      name: "liver_retrain_feedback_quarantined_total",
      help: "Labelled feedback stored in quarantine by screening (it trains only once released).",
      registers,
    });
    this.runs = new Counter({
      name: "liver_retrain_runs_total",
      help: "Retrain runs finished, by outcome and trigger.",
      labelNames: ["outcome", "trigger"],
      registers,
    });
    this.trainingSeconds = new Histogram({
      name: "liver_retrain_training_duration_seconds",
      help: "Wall time of retrain runs from start to registry commit, by outcome.",
      labelNames: ["outcome"],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.servingInfo = new Gauge({
      name: "liver_retrain_serving_model_info",
      help: "1 for the serving model version.",
      labelNames: ["model_version"],
      registers,
    });
    this.servingNumber = new Gauge({
      name: "liver_retrain_serving_model_version",
      help: "Number of the serving version (3 for v3); 0 while none serves.",
      registers,
    });
    this.commitBatch = new Histogram({
      name: "liver_retrain_feedback_commit_batch_size",
      help: "Feedbacks per group-commit transaction.",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers,
    });
    this.commitSeconds = new Histogram({
      name: "liver_retrain_feedback_commit_duration_seconds",
      help: "Time of one group-commit transaction, fsync included.",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1],
      registers,
    });
    const sources = (): RetrainGaugeSources | undefined => this.sources;
    /** A gauge set at scrape time from the bound sources (left unset until bind). */
    const liveGauge = (name: string, help: string, read: (live: RetrainGaugeSources) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const live = sources();
          if (live !== undefined) this.set(read(live));
        },
      });
    };
    liveGauge(
      "liver_retrain_pending_labelled_feedback",
      "Labelled feedback not yet covered by a finished run.",
      (live) => live.pendingLabelled(),
    );
    liveGauge("liver_retrain_watch_subscribers", "Open WatchModelVersions streams.", (live) =>
      live.subscribers(),
    );
    liveGauge(
      "liver_retrain_watch_lagging_subscribers",
      "Version-stream subscribers whose buffer is full (they are not reading).",
      (live) => live.laggingSubscribers(),
    );
    new Gauge<"state">({
      name: "liver_retrain_state",
      help: "1 for the retrainer's current state (idle, scheduled, running).",
      labelNames: ["state"],
      registers,
      collect() {
        const live = sources();
        if (live === undefined) return;
        const now = live.state();
        for (const state of STATES) this.labels(state).set(state === now ? 1 : 0);
      },
    });
    this.servingNumber.set(0);
  }

  /**
   * Exports the clinicians' verdicts per version (the newest MAX_REPORTED_VERSIONS), read at
   * each scrape: counts by verdict, and the accuracy with its 95 % Wilson interval.
   */
  watchVerdicts(verdicts: VersionVerdicts): void {
    const registers = [this.registry];
    new Gauge<"model_version" | "verdict">({
      name: "liver_retrain_version_verdicts",
      help: "Clinicians' verdicts on each version's answers, by verdict (correct, wrong, unknown).",
      labelNames: ["model_version", "verdict"],
      registers,
      collect() {
        this.reset();
        for (const v of verdicts.messages()) {
          this.labels(v.modelVersion, "correct").set(v.correct);
          this.labels(v.modelVersion, "wrong").set(v.wrong);
          this.labels(v.modelVersion, "unknown").set(v.unknown);
        }
      },
    });
    new Gauge<"model_version" | "bound">({
      name: "liver_retrain_version_verdict_accuracy",
      help: "Share of a version's labelled verdicts that were 'correct' (bound=estimate), with the 95 % Wilson interval (bound=low, high).",
      labelNames: ["model_version", "bound"],
      registers,
      collect() {
        this.reset();
        for (const v of verdicts.messages()) {
          if (v.correct + v.wrong === 0) continue;
          this.labels(v.modelVersion, "estimate").set(v.accuracy);
          this.labels(v.modelVersion, "low").set(v.accuracyLow);
          this.labels(v.modelVersion, "high").set(v.accuracyHigh);
        }
      },
    });
  }

  /**
   * Exports each site's calibration drift on the serving version, read at each scrape: O / E
   * with its 95 % interval, and 1 while the site's alarm is raised. Site labels come only from
   * validated site names and are at most MAX_SITES plus the default site.
   */
  watchCalibrationDrift(drift: SiteCalibrationDrift, servingVersion: () => string): void {
    const registers = [this.registry];
    new Gauge<"site" | "bound">({
      name: "liver_retrain_site_calibration_oe",
      help: "Observed / expected liver-disease events over the site's newest labelled verdicts on the serving version (bound=estimate), with its 95 % interval (bound=low, high).",
      labelNames: ["site", "bound"],
      registers,
      collect() {
        this.reset();
        for (const d of drift.report(servingVersion())) {
          if (d.expected === 0) continue;
          this.labels(d.site, "estimate").set(d.ratio);
          this.labels(d.site, "low").set(d.low);
          this.labels(d.site, "high").set(d.high);
        }
      },
    });
    new Gauge<"site">({
      name: "liver_retrain_site_calibration_drift_alarm",
      help: "1 while 1 lies outside the site's O / E interval (judged from 50 verdicts on), else 0.",
      labelNames: ["site"],
      registers,
      collect() {
        this.reset();
        for (const d of drift.report(servingVersion())) this.labels(d.site).set(d.alarm ? 1 : 0);
      },
    });
  }

  /** Connects the scrape-time gauges to the live service. */
  bind(sources: RetrainGaugeSources): void {
    this.sources = sources;
  }

  feedbackStored(verdict: StoredVerdict): void {
    this.feedback.labels(VERDICT_LABEL[verdict]).inc();
  }

  feedbackDuplicate(): void {
    this.duplicates.inc();
  }

  feedbackSourceLimited(): void {
    this.sourceLimited.inc();
  }

  feedbackQuarantined(): void {
    this.quarantined.inc();
  }

  committed(batchSize: number, durationMs: number): void {
    this.commitBatch.observe(batchSize);
    this.commitSeconds.observe(durationMs / 1000);
  }

  runFinished(outcome: RunOutcome, trigger: string, durationMs: number): void {
    this.runs.labels(outcome, trigger).inc();
    this.trainingSeconds.labels(outcome).observe(durationMs / 1000);
  }

  /** The candidate waiting for approval, or undefined when none waits. */
  pendingApproval(record: { readonly createdAtMs: number } | undefined): void {
    this.pending.set(record === undefined ? 0 : 1);
    this.pendingSince.set(record === undefined ? 0 : record.createdAtMs / 1000);
  }

  serving(modelVersion: string): void {
    this.servingInfo.reset();
    this.servingInfo.labels(modelVersion).set(1);
    this.servingNumber.set(Number(modelVersion.slice(1)) || 0);
  }
}
