/**
 * The stages of one candidate's training as the worker thread timed them, sent back with the
 * candidate; the main thread turns them into spans (retrain-tracing.ts). Times are epoch
 * milliseconds (performance.timeOrigin + performance.now()), so they compare across threads.
 */
import type { StageTimings } from "../shared/model/training-pipeline.js";

/** One timed stage. */
export interface TrainingStage {
  /** e.g. "load", "split", "fit_pipeline", "train", "evaluate", "build_artifact". */
  readonly name: string;
  readonly startMs: number;
  readonly endMs: number;
}

/** What the worker reports: its stages, and the trace context it was handed with the request. */
export interface TrainingStageReport {
  /** The W3C traceparent of the request (CandidateRequest.traceparent). */
  readonly traceparent: string;
  readonly stages: readonly TrainingStage[];
}

/** Now, in epoch milliseconds with sub-millisecond precision. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Times stages one after another: each `stage(name)` ends the previous one. */
export class StageClock {
  private readonly timed: TrainingStage[] = [];
  private current: { name: string; startMs: number } | undefined;

  /** Starts `name`, ending the stage before it. */
  stage(name: string): void {
    this.stop();
    this.current = { name, startMs: epochMs() };
  }

  /** Ends the current stage, if one runs. */
  stop(): void {
    if (this.current !== undefined) this.timed.push({ ...this.current, endMs: epochMs() });
    this.current = undefined;
  }

  /** Adds stages timed elsewhere while no stage of this clock ran. */
  add(stages: readonly TrainingStage[]): void {
    this.timed.push(...stages);
  }

  /** Ends the current stage; every stage so far, in start order. */
  stages(): TrainingStage[] {
    this.stop();
    return [...this.timed].sort((a, b) => a.startMs - b.startMs);
  }
}

/**
 * The training pipeline's stages from its wall times: they run back to back and the last one
 * (writing the artifact, or the one before it when nothing was written) ends at `endMs`, when
 * the pipeline returned. Stages that took no time (no artifact asked for) are left out.
 */
export function pipelineStages(timings: StageTimings, endMs: number): TrainingStage[] {
  const order: [string, number][] = [
    ["split", timings.split],
    ["fit_pipeline", timings.fitPipeline],
    ["train", timings.train],
    ["evaluate", timings.evaluate],
    ["build_artifact", timings.buildArtifact],
    ["write_artifact", timings.writeArtifact],
  ];
  const stages: TrainingStage[] = [];
  let end = endMs;
  for (const [name, ms] of order.reverse()) {
    if (ms <= 0) continue;
    stages.unshift({ name, startMs: end - ms, endMs: end });
    end -= ms;
  }
  return stages;
}
