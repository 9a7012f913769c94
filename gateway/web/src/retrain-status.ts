/**
 * The retrain queue and the running job's progress. GetRetrainStatus is polled (there is no
 * status stream): about every second while a run is scheduled or running so progress moves
 * visibly, slowly when idle so an open page costs little, and with backoff while the Retrain
 * service is unreachable.
 */
import { Backoff, delay } from "./backoff.js";
import { h } from "./dom.js";
import {
  type GetRetrainStatusResponse,
  RetrainOutcome,
  type RetrainRun,
  RetrainState,
  type SiteCalibrationDrift,
  type VersionVerdicts,
} from "./gen/liver/v1/retrain_service.js";
import { toGrpcWebError, type GrpcWebError } from "./grpc-status.js";
import { formatClock } from "./time-format.js";

/** Poll intervals in ms. */
export interface RetrainPollIntervals {
  /** While SCHEDULED or RUNNING (default 1000). */
  readonly activeMs: number;
  /** While IDLE (default 5000). */
  readonly idleMs: number;
}

const DEFAULT_INTERVALS: RetrainPollIntervals = { activeMs: 1000, idleMs: 5000 };

/** How long to wait before the next poll after a successful one. */
export function nextPollDelayMs(
  state: RetrainState,
  intervals: RetrainPollIntervals = DEFAULT_INTERVALS,
): number {
  return state === RetrainState.RETRAIN_STATE_RUNNING || state === RetrainState.RETRAIN_STATE_SCHEDULED
    ? intervals.activeMs
    : intervals.idleMs;
}

/**
 * The status in words, and the progress bar while a run is going. The headline is announced
 * to screen readers when it changes; the step count is not (it changes every second).
 */
export interface RetrainStatusView {
  readonly headline: string;
  readonly progress?: { readonly value: number; readonly max: number; readonly text: string };
  readonly details: readonly string[];
}

/** Turns a status response into what the panel shows. */
export function describeRetrainStatus(status: GetRetrainStatusResponse): RetrainStatusView {
  const pending = status.pendingLabelledFeedback;
  const pendingText = `${pending} labelled feedback ${pending === 1 ? "entry" : "entries"} waiting`;
  const details: string[] = [];
  const counts = status.counts;
  if (counts !== undefined) {
    details.push(
      `Feedback so far: ${counts.correct} correct, ${counts.wrong} wrong, ${counts.unknown} don't know.`,
    );
  }
  if (status.lastRun !== undefined) details.push(describeRun(status.lastRun));
  details.push(...status.verdictsByVersion.slice(0, VERDICT_VERSIONS_SHOWN).flatMap(describeVerdicts));
  details.push(...status.calibrationDrift.flatMap(describeCalibrationDrift));
  const serving = status.modelVersion === "" ? "no model yet" : `model ${status.modelVersion} serving`;

  switch (status.state) {
    case RetrainState.RETRAIN_STATE_RUNNING: {
      const p = status.progress;
      if (p === undefined || p.totalSteps === 0) {
        return { headline: `Retraining (${p?.stage ?? "starting"}); ${serving}.`, details };
      }
      const step = Math.min(p.step, p.totalSteps);
      const percent = Math.floor((100 * step) / p.totalSteps);
      return {
        headline: `Retraining (${p.stage}); ${serving}.`,
        progress: { value: step, max: p.totalSteps, text: `Step ${step} of ${p.totalSteps} (${percent} %)` },
        details,
      };
    }
    case RetrainState.RETRAIN_STATE_SCHEDULED:
      return { headline: `Retraining scheduled (${pendingText}); ${serving}.`, details };
    default:
      return {
        headline: `Idle: ${serving}${pending > 0 ? `; ${pendingText}` : ""}.`,
        details,
      };
  }
}

/** Versions whose clinician verdicts the panel lists (newest first). */
const VERDICT_VERSIONS_SHOWN = 3;

const wholePercent = (share: number): string => `${Math.round(share * 100)} %`;

/**
 * "Clinicians marked 12 of 140 answers of v7 wrong (accuracy 91 %, 95 % interval 86 to 95 %)."
 * Nothing for a version with only don't-know verdicts.
 */
export function describeVerdicts(verdicts: VersionVerdicts): string[] {
  const labelled = verdicts.correct + verdicts.wrong;
  if (labelled === 0) return [];
  return [
    `Clinicians marked ${verdicts.wrong} of ${labelled} answer${labelled === 1 ? "" : "s"} of ` +
      `${verdicts.modelVersion} wrong (accuracy ${wholePercent(verdicts.accuracy)}, 95 % interval ` +
      `${Math.round(verdicts.accuracyLow * 100)} to ${wholePercent(verdicts.accuracyHigh)}).`,
  ];
}

/**
 * "Calibration drift at site north: 48 liver-disease outcomes where its answers expected 31.2
 * (observed / expected 1.54, 95 % interval 1.14 to 2.04); its answers run too low."
 * Nothing while the site's alarm is not raised.
 */
export function describeCalibrationDrift(drift: SiteCalibrationDrift): string[] {
  if (!drift.alarm) return [];
  const direction = drift.ratio > 1 ? "too low" : "too high";
  return [
    `Calibration drift at site ${drift.site}: ${drift.observed} liver-disease outcome${drift.observed === 1 ? "" : "s"} ` +
      `in its last ${drift.verdicts} verdicts where its answers expected ${drift.expected.toFixed(1)} ` +
      `(observed / expected ${drift.ratio.toFixed(2)}, 95 % interval ${drift.ratioLow.toFixed(2)} to ` +
      `${drift.ratioHigh.toFixed(2)}); its answers run ${direction}.`,
  ];
}

function describeRun(run: RetrainRun): string {
  const when = run.finishedAt === undefined ? "" : ` at ${formatClock(run.finishedAt)}`;
  const rows = `${run.feedbackRows} feedback row${run.feedbackRows === 1 ? "" : "s"}`;
  switch (run.outcome) {
    case RetrainOutcome.RETRAIN_OUTCOME_PROMOTED:
      return `Last run: ${run.modelVersion} promoted${when} (${rows}).`;
    case RetrainOutcome.RETRAIN_OUTCOME_REJECTED:
      return `Last run: ${run.modelVersion} rejected${when}: ${run.error || "failed the quality gate"}.`;
    case RetrainOutcome.RETRAIN_OUTCOME_FAILED:
      return `Last run failed${when}: ${run.error || "no reason given"}.`;
    case RetrainOutcome.RETRAIN_OUTCOME_PENDING_APPROVAL:
      return `Last run: ${run.modelVersion} waits for an administrator's approval${when} (${rows}).`;
    default:
      return `Last run: ${run.runId} still open.`;
  }
}

/** Where the panel reports each poll's outcome (the outage banner). */
export interface RetrainStatusReporter {
  succeeded(status: GetRetrainStatusResponse): void;
  failed(error: GrpcWebError): void;
}

/** Polls GetRetrainStatus and renders it into its section. */
export class RetrainStatusPanel {
  private readonly headline = h("p", { class: "status-headline" });
  private readonly bar = h("progress", { id: "retrain-progress", hidden: true });
  private readonly barLabel = h("label", { for: "retrain-progress", class: "progress-label", hidden: true });
  private readonly list = h("ul", { class: "status-details" });
  private readonly stopController = new AbortController();
  private wake: AbortController | undefined;
  private readonly backoff = new Backoff({ initialMs: 1000, maxMs: 8000 });
  private running: Promise<void> | undefined;
  /** The last status polled, re-rendered when the version stream names a new serving version. */
  private last: GetRetrainStatusResponse | undefined;
  /** The serving version from the version stream, once it has delivered one. */
  private servingVersion: string | undefined;

  constructor(
    container: HTMLElement,
    private readonly fetchStatus: (signal: AbortSignal) => Promise<GetRetrainStatusResponse>,
    private readonly reporter: RetrainStatusReporter,
    private readonly intervals: RetrainPollIntervals = DEFAULT_INTERVALS,
  ) {
    this.headline.textContent = "Loading the retrain status…";
    const live = h("div", { "aria-live": "polite", "aria-atomic": "true" }, this.headline);
    container.replaceChildren(live, this.barLabel, this.bar, this.list);
  }

  /** Starts polling (idempotent). */
  start(): void {
    this.running ??= this.loop();
  }

  /**
   * The serving version as the version stream announced it. From then on the panel names
   * this version, not the one in its last poll, so it changes with the header badge on the
   * same event instead of up to a poll interval later.
   */
  setServingVersion(version: string): void {
    this.servingVersion = version;
    if (this.last !== undefined) this.render(this.describe(this.last));
  }

  /** Polls now instead of at the next interval, e.g. right after feedback was sent. */
  pollNow(): void {
    this.wake?.abort();
  }

  /** Stops polling. */
  async stop(): Promise<void> {
    this.stopController.abort();
    this.wake?.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    const stopped = this.stopController.signal;
    while (!stopped.aborted) {
      let wait: number;
      try {
        const status = await this.fetchStatus(stopped);
        this.backoff.reset();
        this.last = status;
        this.render(this.describe(status));
        this.reporter.succeeded(status);
        wait = nextPollDelayMs(status.state, this.intervals);
      } catch (error) {
        if (this.stopController.signal.aborted) return;
        const failure = toGrpcWebError(error, "/liver.v1.RetrainService/GetRetrainStatus");
        wait = this.backoff.next();
        this.render({
          headline: `Retrain status unavailable; retrying in ${Math.ceil(wait / 1000)} s.`,
          details: [`${failure.codeName}: ${failure.details}`],
        });
        this.reporter.failed(failure);
      }
      this.wake = new AbortController();
      await delay(wait, AbortSignal.any([stopped, this.wake.signal]));
    }
  }

  private describe(status: GetRetrainStatusResponse): RetrainStatusView {
    const modelVersion = this.servingVersion ?? status.modelVersion;
    return describeRetrainStatus(modelVersion === status.modelVersion ? status : { ...status, modelVersion });
  }

  private render(view: RetrainStatusView): void {
    // Unchanged text is not rewritten, so the live region speaks only when something changed.
    if (this.headline.textContent !== view.headline) this.headline.textContent = view.headline;
    this.bar.hidden = view.progress === undefined;
    this.barLabel.hidden = view.progress === undefined;
    if (view.progress === undefined) {
      this.bar.removeAttribute("value");
    } else {
      this.bar.max = view.progress.max;
      this.bar.value = view.progress.value;
      this.barLabel.textContent = `Retraining progress: ${view.progress.text}`;
    }
    const key = view.details.join("\n");
    if (this.list.dataset["key"] !== key) {
      this.list.dataset["key"] = key;
      this.list.replaceChildren(...view.details.map((line) => h("li", {}, line)));
    }
  }
}
