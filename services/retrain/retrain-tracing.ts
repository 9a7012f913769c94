import {
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanStatusCode,
  context,
  propagation,
  trace,
} from "@opentelemetry/api";
import { ATTR_MODEL_VERSION, ATTR_SITE, DEFAULT_SITE, linkTo, meshTracer } from "../shared/ops/tracing.js";
import type { CandidateTrainer } from "./candidate-trainer.js";
import type { StartedRun } from "./retrain-scheduler.js";
import type { ModelVersionRecord } from "./store/model-registry.js";
import type { TrainingStageReport } from "./training-stages.js";
import type { RunOutcome, RunTrigger } from "./store/run-log.js";

/** Verdicts remembered until a run links them; older ones are dropped beyond this. */
const MAX_PENDING_VERDICTS = 512;
/** Links one run span carries at most (the newest verdicts). */
const MAX_RUN_LINKS = 128;
/** Promotions whose traceparent is remembered for the version stream. */
const MAX_PROMOTIONS = 32;

/**
 * The spans that connect a clinician's verdict to what it changed: each labelled verdict's
 * SubmitFeedback span is remembered (in memory, bounded) until a retrain run starts; the run
 * is a new trace linked to the verdicts it trains on; its promotion is a child span naming
 * the version, whose traceparent the version stream carries so every replica's swap links to
 * it. All of it is a no-op while tracing is off (no active span, no recording tracer).
 */
export class RetrainTracing {
  private pending: SpanContext[] = [];
  private run: Span | undefined;
  private readonly promotions = new Map<string, string>();

  /** Remembers the active span (SubmitFeedback's) as a verdict the next run will train on. */
  verdictCommitted(seq: number): void {
    const span = trace.getActiveSpan();
    if (span === undefined || !span.isRecording()) return;
    span.setAttribute("liver.feedback.seq", seq);
    this.pending.push(span.spanContext());
    if (this.pending.length > MAX_PENDING_VERDICTS)
      this.pending.splice(0, this.pending.length - MAX_PENDING_VERDICTS);
  }

  /** Runs `start` (RetrainRunner.start) inside a new run span linked to the pending verdicts. */
  traceRun(trigger: RunTrigger, reason: string, start: () => StartedRun): StartedRun {
    const verdicts = this.pending.splice(0).slice(-MAX_RUN_LINKS);
    const span = meshTracer().startSpan(
      "retrain.run",
      {
        root: true,
        links: verdicts.flatMap((verdict) => linkTo(verdict, { "liver.link": "verdict" })),
        attributes: {
          "liver.run.trigger": trigger,
          "liver.run.verdicts": verdicts.length,
          [ATTR_SITE]: DEFAULT_SITE,
        },
      },
      ROOT_CONTEXT,
    );
    if (reason !== "") span.setAttribute("liver.run.reason", reason);
    this.run = span;
    const started = context.with(trace.setSpan(ROOT_CONTEXT, span), start);
    span.setAttribute("liver.run.feedback_up_to", started.feedbackUpTo);
    return started;
  }

  /** A promotion inside the running run: a child span naming the version; returns its traceparent. */
  promoted(record: ModelVersionRecord): string {
    const parent = this.run;
    if (parent === undefined || !parent.isRecording()) return "";
    const span = meshTracer().startSpan(
      "model.promote",
      {
        links: linkTo(parent.spanContext(), { "liver.link": "run" }),
        attributes: { [ATTR_MODEL_VERSION]: record.modelVersion, [ATTR_SITE]: DEFAULT_SITE },
      },
      trace.setSpan(ROOT_CONTEXT, parent),
    );
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
    span.end();
    const traceparent = carrier["traceparent"] ?? "";
    this.promotions.set(record.modelVersion, traceparent);
    for (const version of this.promotions.keys()) {
      if (this.promotions.size <= MAX_PROMOTIONS) break;
      this.promotions.delete(version);
    }
    return traceparent;
  }

  /** The traceparent of `version`'s promotion, when this process made and remembers it. */
  promotionOf(version: string): string {
    return this.promotions.get(version) ?? "";
  }

  /** Ends the run span with its outcome and the version it made. */
  runFinished(outcome: RunOutcome, record: ModelVersionRecord | undefined): void {
    const span = this.run;
    this.run = undefined;
    if (span === undefined) return;
    span.setAttribute("liver.run.outcome", outcome);
    if (record !== undefined) span.setAttribute(ATTR_MODEL_VERSION, record.modelVersion);
    if (outcome === "failed") span.setStatus({ code: SpanStatusCode.ERROR, message: "retrain run failed" });
    span.end();
  }
}

/**
 * An admin's change of the serving version (RollbackModel, or ApproveModelVersion of a
 * candidate that waited): a span in the admin call's trace naming the version now serving and
 * the one before; returns its traceparent for the version events, so every replica's swap links
 * to it as it does to a promotion. "" while tracing is off or the admin call is not sampled.
 */
export function servingChangedByAdmin(
  change: "rollback" | "approval",
  record: ModelVersionRecord,
  previousVersion: string,
): string {
  const span = meshTracer().startSpan(change === "rollback" ? "model.rollback" : "model.approve", {
    attributes: {
      [ATTR_MODEL_VERSION]: record.modelVersion,
      "liver.previous_model_version": previousVersion,
      [ATTR_SITE]: DEFAULT_SITE,
    },
  });
  const carrier: Record<string, string> = {};
  if (span.isRecording()) propagation.inject(trace.setSpan(context.active(), span), carrier);
  span.end();
  return carrier["traceparent"] ?? "";
}

/**
 * The trainer with each training in a child span of the run, naming the version it trains.
 * The span's traceparent goes into the worker thread with the request and comes back with the
 * stages the worker timed (load, reference models, split, fit pipeline, train, evaluate, build
 * and write the artifact, gate evidence), which become child spans with the worker's start and
 * end times. The worker itself exports nothing: a second SDK and exporter in the thread would
 * double the export machinery and lose its buffer whenever a run is aborted and the thread
 * ended, while a timed report arrives with the candidate it describes.
 */
export function tracedTrainer(trainer: CandidateTrainer): CandidateTrainer {
  return {
    train: (request, onProgress, signal) =>
      meshTracer().startActiveSpan(
        "retrain.train",
        { attributes: { [ATTR_MODEL_VERSION]: request.modelVersion, "liver.run.id": request.runId } },
        async (span) => {
          try {
            const carrier: Record<string, string> = {};
            if (span.isRecording()) propagation.inject(context.active(), carrier);
            const traceparent = carrier["traceparent"];
            const candidate = await trainer.train(
              traceparent === undefined ? request : { ...request, traceparent },
              onProgress,
              signal,
            );
            if (candidate.stages !== undefined) stageSpans(candidate.stages, request.modelVersion);
            return candidate;
          } catch (error) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
            throw error;
          } finally {
            span.end();
          }
        },
      ),
    close: () => trainer.close(),
  };
}

/** One span per stage the worker timed, children of the span its traceparent names. */
function stageSpans(report: TrainingStageReport, modelVersion: string): void {
  const parent = propagation.extract(ROOT_CONTEXT, { traceparent: report.traceparent });
  const parentSpan = trace.getSpanContext(parent);
  if (parentSpan === undefined || !trace.isSpanContextValid(parentSpan)) return;
  for (const stage of report.stages) {
    meshTracer()
      .startSpan(
        `train.${stage.name}`,
        { startTime: stage.startMs, attributes: { [ATTR_MODEL_VERSION]: modelVersion } },
        parent,
      )
      .end(stage.endMs);
  }
}
