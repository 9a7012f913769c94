import type {
  CandidateProgress,
  CandidateRequest,
  CandidateTrainer,
  TrainedCandidate,
} from "../candidate-trainer.js";

/** A held run: resolves when it reached the trainer; release() lets it train. */
export interface HeldRun {
  readonly started: Promise<CandidateRequest>;
  release(): void;
}

/**
 * Wraps the real trainer so a test can hold the next run at its start (to send feedback
 * "during a run" deterministically) or make it fail, without sleeping.
 */
export class HoldableTrainer implements CandidateTrainer {
  private hold: { started: (request: CandidateRequest) => void; released: Promise<void> } | undefined;
  private failure: Error | undefined;
  readonly requests: CandidateRequest[] = [];

  constructor(private readonly inner: CandidateTrainer) {}

  /** Holds the next run until release(). */
  holdNext(): HeldRun {
    let release: () => void = () => undefined;
    let started: (request: CandidateRequest) => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const startedPromise = new Promise<CandidateRequest>((resolve) => {
      started = resolve;
    });
    this.hold = { started, released };
    return { started: startedPromise, release };
  }

  /** Makes the next run fail with `error` instead of training. */
  failNext(error: Error): void {
    this.failure = error;
  }

  async train(
    request: CandidateRequest,
    onProgress: (progress: CandidateProgress) => void,
    signal: AbortSignal,
  ): Promise<TrainedCandidate> {
    this.requests.push(request);
    const hold = this.hold;
    this.hold = undefined;
    if (hold !== undefined) {
      onProgress({ stage: "held by the test", step: 0, totalSteps: 1, loss: 0 });
      hold.started(request);
      await hold.released;
    }
    const failure = this.failure;
    this.failure = undefined;
    if (failure !== undefined) throw failure;
    return this.inner.train(request, onProgress, signal);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
