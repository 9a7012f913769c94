/**
 * NewTraceSampling as the tracer provider's id generator: a new trace the sampler keeps is
 * started with the trace id it was decided on, so the tracer records it and the configured
 * ratio holds (deciding twice on different ids would keep ratio² of the traces); a dropped
 * one leaves the next trace id random.
 */
import { ROOT_CONTEXT, SpanKind, isValidSpanId, isValidTraceId } from "@opentelemetry/api";
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  type Sampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { NewTraceSampling } from "./new-trace-sampling.js";

function setUp(sampler: Sampler): {
  sampling: NewTraceSampling;
  exporter: InMemorySpanExporter;
  tracer: ReturnType<BasicTracerProvider["getTracer"]>;
} {
  const sampling = new NewTraceSampling(sampler);
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    sampler,
    idGenerator: sampling,
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  return { sampling, exporter, tracer: provider.getTracer("test") };
}

describe("NewTraceSampling", () => {
  it("starts a kept new trace with the trace id decided on, and the tracer records it", () => {
    const { sampling, exporter, tracer } = setUp(
      new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.5) }),
    );
    const trials = 4_000;
    let kept = 0;
    for (let i = 0; i < trials; i++) {
      if (!sampling.recordsNewTrace("grpc.test/Call", SpanKind.SERVER)) continue;
      kept++;
      const span = tracer.startSpan("grpc.test/Call", { kind: SpanKind.SERVER }, ROOT_CONTEXT);
      expect(span.isRecording()).toBe(true);
      span.end();
    }
    expect(exporter.getFinishedSpans()).toHaveLength(kept);
    // Binomial(4000, 0.5): [0.45, 0.55] is six standard deviations either side; ratio² (0.25),
    // what a second decision on another id would give, is far outside.
    expect(kept / trials).toBeGreaterThan(0.45);
    expect(kept / trials).toBeLessThan(0.55);
  });

  it("hands the decided trace id out once; other trace ids stay random and valid", () => {
    const { sampling } = setUp(new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(1) }));
    expect(sampling.recordsNewTrace("grpc.test/Call", SpanKind.SERVER)).toBe(true);
    const decided = sampling.generateTraceId();
    const next = sampling.generateTraceId();
    expect(next).not.toBe(decided);
    for (const id of [decided, next]) expect(isValidTraceId(id)).toBe(true);
    expect(isValidSpanId(sampling.generateSpanId())).toBe(true);
  });

  it("keeps nothing when the sampler drops new traces", () => {
    const { sampling } = setUp(new ParentBasedSampler({ root: new AlwaysOffSampler() }));
    for (let i = 0; i < 100; i++)
      expect(sampling.recordsNewTrace("grpc.test/Call", SpanKind.SERVER)).toBe(false);
  });
});
