import { ROOT_CONTEXT, type SpanContext, TraceFlags, trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { SAMPLER_NAMES, samplerFromEnv } from "./link-following-sampler.js";

/** A tracer sampling as `env` says, and the spans it kept. */
function tracerFor(env: NodeJS.ProcessEnv): {
  tracer: ReturnType<BasicTracerProvider["getTracer"]>;
  kept: () => string[];
} {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    sampler: samplerFromEnv(env),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  return { tracer: provider.getTracer("test"), kept: () => exporter.getFinishedSpans().map((s) => s.name) };
}

const context = (flags: number): SpanContext => ({
  traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
  spanId: "00f067aa0ba902b7",
  traceFlags: flags,
});

describe("samplerFromEnv", () => {
  it("keeps a new trace linked to a sampled span even when its ratio is 0", () => {
    const { tracer, kept } = tracerFor({
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0",
    });
    tracer.startSpan("unlinked", { root: true }, ROOT_CONTEXT).end();
    tracer
      .startSpan("linked to an unsampled verdict", {
        root: true,
        links: [{ context: context(TraceFlags.NONE) }],
      })
      .end();
    tracer
      .startSpan(
        "retrain.run",
        { root: true, links: [{ context: context(TraceFlags.SAMPLED) }] },
        ROOT_CONTEXT,
      )
      .end();
    expect(kept()).toEqual(["retrain.run"]);
  });

  it("follows the parent's decision otherwise, as the standard parent-based samplers do", () => {
    const { tracer, kept } = tracerFor({ OTEL_TRACES_SAMPLER: "parentbased_always_off" });
    const sampledParent = trace.setSpanContext(ROOT_CONTEXT, context(TraceFlags.SAMPLED));
    const unsampledParent = trace.setSpanContext(ROOT_CONTEXT, context(TraceFlags.NONE));
    tracer.startSpan("child of sampled", {}, sampledParent).end();
    tracer.startSpan("child of unsampled", {}, unsampledParent).end();
    tracer.startSpan("root", { root: true }).end();
    expect(kept()).toEqual(["child of sampled"]);
  });

  it("defaults to parent-based always on, and builds every standard name", () => {
    const { tracer, kept } = tracerFor({});
    tracer.startSpan("root", { root: true }).end();
    expect(kept()).toEqual(["root"]);
    for (const name of SAMPLER_NAMES) {
      expect(
        samplerFromEnv({ OTEL_TRACES_SAMPLER: name, OTEL_TRACES_SAMPLER_ARG: "0.5" }).toString(),
      ).toMatch(/^LinkFollowingSampler\{/);
    }
  });

  it("refuses an unknown sampler or a ratio outside [0, 1], naming the variable", () => {
    expect(() => samplerFromEnv({ OTEL_TRACES_SAMPLER: "jaeger_remote" })).toThrow(
      /OTEL_TRACES_SAMPLER is "jaeger_remote"/,
    );
    for (const arg of ["1.5", "-0.1", "NaN", "one percent", "Infinity"]) {
      expect(() =>
        samplerFromEnv({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: arg }),
      ).toThrow(/OTEL_TRACES_SAMPLER_ARG is/);
    }
  });
});
