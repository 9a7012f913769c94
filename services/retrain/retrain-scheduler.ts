import type { RunTrigger } from "./store/run-log.js";

/** Idle, waiting for the debounce window, or running (liver.v1.RetrainState). */
export type SchedulerState = "idle" | "scheduled" | "running";

/** How a run ended, as far as the scheduler cares. */
export interface RunCompletion {
  /** True when the run covered its feedback snapshot (promoted or rejected), false when it failed. */
  readonly covered: boolean;
}

/** A run that started: its feedback snapshot and its end. */
export interface StartedRun {
  /** Newest labelled feedback seq the run trains on; later feedback is the next run's. */
  readonly feedbackUpTo: number;
  /** Settles when the run ended; never rejects (failures are outcomes). */
  readonly completion: Promise<RunCompletion>;
}

/** Starts one run, taking its feedback snapshot before it returns. */
export type StartRun = (trigger: RunTrigger, reason: string) => StartedRun;

/** Timer functions, injectable so tests control time. */
export interface SchedulerTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Options of RetrainScheduler. */
export interface RetrainSchedulerOptions {
  /** Window after the first due feedback in which more feedback joins the same run. */
  readonly debounceMs: number;
  /** Pending labelled feedbacks that make a run due. */
  readonly minBatch: number;
  /** Labelled feedback no finished run covers, when the scheduler starts (from the store). */
  readonly initialPending: number;
  readonly startRun: StartRun;
  readonly timers?: SchedulerTimers;
  /** Called with every recorded labelled feedback's seq, in its caller's context (tracing). */
  readonly onLabelledFeedback?: (seq: number) => void;
  /** Called on every state change (for metrics, logs and tests). */
  readonly onStateChange?: (state: SchedulerState) => void;
}

/** A queued run's trigger; admin requests and recovery win over plain feedback. */
interface Due {
  trigger: RunTrigger;
  reason: string;
  forced: boolean;
}

const defaultTimers: SchedulerTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Single-flight retrain scheduling with exactly one follow-up. Feedback that arrives
 * while a run trains marks the state dirty, and when the run ends one more run starts
 * and covers all of it, so no trigger is ever lost (the original system answered
 * "retraining already in progress" and dropped it). A failed run leaves its feedback
 * pending for the next run.
 */
export class RetrainScheduler {
  private current: SchedulerState = "idle";
  private timer: unknown;
  private due: Due | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Labelled feedback no finished run covers (GetRetrainStatus.pending_labelled_feedback). */
  private pendingUncovered: number;
  /** Labelled feedback the running run does not cover either: what the next run is for. */
  private pendingForNext: number;
  /** Labelled feedback inside the running run's snapshot; pending again if that run fails. */
  private pendingInRun = 0;
  /** The running run's snapshot; undefined while no run runs. */
  private runningUpTo: number | undefined;
  private readonly timers: SchedulerTimers;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: RetrainSchedulerOptions) {
    this.pendingUncovered = options.initialPending;
    this.pendingForNext = options.initialPending;
    this.timers = options.timers ?? defaultTimers;
  }

  get state(): SchedulerState {
    return this.current;
  }

  /** Labelled feedback not yet covered by a finished run. */
  get pendingLabelled(): number {
    return this.pendingUncovered;
  }

  /**
   * Records one committed labelled feedback by its seq. Returns true when it scheduled or
   * joined a run (the running one, or its follow-up), false when the minimum batch is not
   * met. A feedback committed in the same transaction as a run's snapshot may be recorded
   * after the run started; its seq tells that the running run already covers it.
   */
  recordLabelledFeedback(seq: number): boolean {
    this.options.onLabelledFeedback?.(seq);
    this.pendingUncovered++;
    if (this.runningUpTo !== undefined && seq <= this.runningUpTo) {
      this.pendingInRun++;
      return true;
    }
    this.pendingForNext++;
    if (this.stopped) return false;
    if (this.pendingForNext < this.options.minBatch) return this.due !== undefined;
    this.queue({ trigger: "feedback", reason: "", forced: false }, false);
    return true;
  }

  /**
   * Queues a run regardless of the minimum batch (admin, startup, recovery). Returns
   * true when a new run was queued, false when one already queued covers it.
   */
  request(trigger: RunTrigger, reason = "", immediate = true): boolean {
    if (this.stopped) return false;
    return this.queue({ trigger, reason, forced: true }, immediate);
  }

  /** Resolves when no run is running or queued. */
  whenIdle(): Promise<void> {
    if (this.current === "idle") return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops scheduling; resolves when the running run (if any) has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.due = undefined;
    if (this.running !== undefined) await this.running;
    this.setState("idle");
  }

  private queue(due: Due, immediate: boolean): boolean {
    const wasQueued = this.due !== undefined;
    if (this.due === undefined || (due.forced && !this.due.forced)) this.due = due;
    if (this.running !== undefined) return !wasQueued;
    if (immediate || this.options.debounceMs === 0) {
      this.startDue();
      return !wasQueued;
    }
    if (this.timer === undefined) {
      this.setState("scheduled");
      this.timer = this.timers.setTimeout(() => {
        this.timer = undefined;
        this.startDue();
      }, this.options.debounceMs);
    }
    return !wasQueued;
  }

  private startDue(): void {
    const due = this.due;
    if (due === undefined || this.running !== undefined || this.stopped) return;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.due = undefined;
    let started: StartedRun;
    try {
      started = this.options.startRun(due.trigger, due.reason);
    } catch {
      started = { feedbackUpTo: this.runningUpTo ?? 0, completion: Promise.resolve({ covered: false }) };
    }
    this.runningUpTo = started.feedbackUpTo;
    this.pendingInRun = this.pendingForNext;
    this.pendingForNext = 0;
    this.setState("running");
    this.running = started.completion.then(
      (result) => this.finish(result),
      () => this.finish({ covered: false }),
    );
  }

  private finish(result: RunCompletion): void {
    this.running = undefined;
    this.runningUpTo = undefined;
    if (result.covered) this.pendingUncovered = this.pendingForNext;
    else this.pendingForNext += this.pendingInRun;
    this.pendingInRun = 0;
    if (!this.stopped && this.due !== undefined) {
      // The follow-up: feedback that arrived during the run already waited; start at once.
      this.startDue();
      return;
    }
    this.setState("idle");
  }

  private setState(state: SchedulerState): void {
    if (state === this.current) return;
    this.current = state;
    this.options.onStateChange?.(state);
    if (state === "idle") {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
