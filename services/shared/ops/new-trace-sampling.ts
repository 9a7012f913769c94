/**
 * The sampling decision for a call that starts a new trace, taken before any span is made.
 *
 * Why: a hot server method (Predict's) is called thousands of times a second, almost always
 * without a caller's trace, and under the shipped 1 % sampler almost never recorded. Asking
 * the SDK's tracer for each of them builds a span that nobody sees: two random ids, the
 * sampler, the SDK's span-count metric, a non-recording span; profiled in a Predict replica
 * that was about 5 µs a call, several times what the same code costs in a tight loop
 * (README, Tracing). Here the process's own sampler (the one the tracer provider runs) decides
 * on a fresh random trace id; only when it samples is the span started, and this class, the
 * provider's id generator, hands the tracer that same trace id, so the tracer's sampler sees
 * the same trace id, context, name, kind, attributes and links and comes to the same decision.
 */
import { type Attributes, type Link, ROOT_CONTEXT, type SpanKind } from "@opentelemetry/api";
import {
  type IdGenerator,
  RandomIdGenerator,
  type Sampler,
  SamplingDecision,
} from "@opentelemetry/sdk-trace-base";

const NO_ATTRIBUTES: Attributes = Object.freeze({});
const NO_LINKS: Link[] = [];

/** The tracer provider's id generator, and the decision for new traces of hot methods. */
export class NewTraceSampling implements IdGenerator {
  private readonly random = new RandomIdGenerator();
  /** The trace id the next generateTraceId returns, set by a sampled decision. */
  private decided: string | undefined;

  /** `sampler` must be the tracer provider's own, and its decisions a function of their inputs. */
  constructor(private readonly sampler: Sampler) {}

  /**
   * Whether a root span named `spanName` of `kind`, without attributes or links, would be
   * recorded. When it would, the next trace id this generator makes is the one decided on:
   * start that span at once (synchronously, before any other root span).
   */
  recordsNewTrace(spanName: string, kind: SpanKind): boolean {
    const traceId = this.random.generateTraceId();
    const { decision } = this.sampler.shouldSample(
      ROOT_CONTEXT,
      traceId,
      spanName,
      kind,
      NO_ATTRIBUTES,
      NO_LINKS,
    );
    if (decision === SamplingDecision.NOT_RECORD) return false;
    this.decided = traceId;
    return true;
  }

  generateTraceId(): string {
    const decided = this.decided;
    if (decided === undefined) return this.random.generateTraceId();
    this.decided = undefined;
    return decided;
  }

  generateSpanId(): string {
    return this.random.generateSpanId();
  }
}
