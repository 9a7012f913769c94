/**
 * OpenTelemetry tracing, off unless OTEL_EXPORTER_OTLP_ENDPOINT (or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; everything else comes from OpenTelemetry's
 * standard variables: OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and
 * OTEL_TRACES_SAMPLER_ARG, OTEL_EXPORTER_OTLP_PROTOCOL ("http/protobuf", the default, or
 * "http/json"), OTEL_SDK_DISABLED. W3C traceparent is the propagation format.
 *
 * gRPC calls are traced by @opentelemetry/instrumentation-grpc, which patches @grpc/grpc-js
 * when it is first required; so a process starts tracing before anything imports grpc-js
 * (each main.ts imports its tracing module first), and this module then requires grpc-js
 * itself, so the ES-module imports that follow share the patched module. Hot unary services
 * (Predict's) start their server spans themselves (server-call-tracing.ts) and the
 * instrumentation skips them (claimServerSpans). The context manager is AsyncLocalStorage, the
 * SDK's default, unless the process asks for the synchronous one (Predict's; see
 * synchronous-context-manager.ts for why and what it changes).
 */
import { createRequire } from "node:module";
import { type Attributes, type Link, type SpanContext, trace } from "@opentelemetry/api";
import { OTLPTraceExporter as OtlpJsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OtlpProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { GrpcInstrumentation } from "@opentelemetry/instrumentation-grpc";
import { detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import { samplerFromEnv } from "./link-following-sampler.js";
import { NewTraceSampling } from "./new-trace-sampling.js";
import { SynchronousContextManager } from "./synchronous-context-manager.js";

/** Span attribute naming the model version a span served, trained or swapped to. */
export const ATTR_MODEL_VERSION = "model_version";
/** Span attribute naming the hospital site of the request ("default" when none is known). */
export const ATTR_SITE = "liver.site";
/** The site recorded when a request names none. */
export const DEFAULT_SITE = "default";

/** The process's tracing: whether it is on, and how to flush it at shutdown. */
export interface Tracing {
  readonly enabled: boolean;
  /** The settings in force, for the start-up log line. */
  readonly description: string;
  /** Exports what is buffered and stops; safe to call when tracing is off. */
  shutdown(): Promise<void>;
}

const OFF: Tracing = {
  enabled: false,
  description: "tracing off (OTEL_EXPORTER_OTLP_ENDPOINT is not set)",
  shutdown: () => Promise.resolve(),
};

let started: Tracing | undefined;
/** The provider's id generator and sampler, for hot methods' new traces (tracing on only). */
let sampling: NewTraceSampling | undefined;

/**
 * Server methods (by method name, as the gRPC instrumentation matches them) whose server spans
 * this process starts itself (server-call-tracing.ts); the instrumentation leaves them alone.
 * A process serves and calls different methods, so the name alone is enough.
 */
const selfTracedMethods = new Set<string>();

/** Tells the gRPC instrumentation that this process traces calls of `methodName` itself. */
export function claimServerSpans(methodName: string): void {
  selfTracedMethods.add(methodName);
}

/** How a process wants its tracing set up beyond the standard variables. */
export interface TracingOptions {
  /**
   * "async-local-storage" (the SDK's default): the active span follows every await and
   * callback. "synchronous": it lasts for the synchronous run of `context.with` only, and
   * async_hooks stay off (synchronous-context-manager.ts); for a process whose calls answer
   * in one tick and pay for every hook otherwise.
   */
  readonly context?: "async-local-storage" | "synchronous";
}

/** Whether the standard variables turn tracing on. */
export function tracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env["OTEL_SDK_DISABLED"] ?? "").toLowerCase() === "true") return false;
  return (env["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] ?? "") !== "";
}

/**
 * Starts tracing for this process once (later calls return the first result), named
 * OTEL_SERVICE_NAME or `defaultServiceName`.
 */
export function startTracing(
  defaultServiceName: string,
  env: NodeJS.ProcessEnv = process.env,
  options: TracingOptions = {},
): Tracing {
  if (started !== undefined) return started;
  if (!tracingConfigured(env)) {
    started = OFF;
    return started;
  }
  const protocol =
    env["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] ?? env["OTEL_EXPORTER_OTLP_PROTOCOL"] ?? "http/protobuf";
  if (protocol !== "http/protobuf" && protocol !== "http/json") {
    throw new Error(
      `OTEL_EXPORTER_OTLP_PROTOCOL is ${JSON.stringify(protocol)}; this service exports "http/protobuf" (the default) or "http/json"`,
    );
  }
  const exporter = protocol === "http/json" ? new OtlpJsonExporter() : new OtlpProtoExporter();
  const resource = resourceFromAttributes({
    [ATTR_SERVICE_NAME]: env["OTEL_SERVICE_NAME"] ?? defaultServiceName,
  }).merge(detectResources({ detectors: [envDetector] }));
  // OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default parent-based, always on), and a span
  // linked to a sampled one (a run to its verdicts, a swap to its promotion) is kept too.
  const sampler = samplerFromEnv(env);
  sampling = new NewTraceSampling(sampler);
  const provider = new NodeTracerProvider({
    resource,
    sampler,
    idGenerator: sampling,
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  // Global provider, W3C trace context and baggage propagators, and the context manager:
  // AsyncLocalStorage unless the process asked for the synchronous one.
  provider.register(
    options.context === "synchronous" ? { contextManager: new SynchronousContextManager() } : {},
  );
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new GrpcInstrumentation({ ignoreGrpcMethods: [(name) => selfTracedMethods.has(name)] }),
    ],
  });
  createRequire(import.meta.url)("@grpc/grpc-js");
  const endpoint = env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] ?? env["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? "";
  const samplerName = env["OTEL_TRACES_SAMPLER"] ?? "parentbased_always_on";
  const samplerArg = env["OTEL_TRACES_SAMPLER_ARG"];
  const contextKind = options.context === "synchronous" ? ", synchronous context" : "";
  started = {
    enabled: true,
    description: `tracing on: OTLP ${protocol} to ${endpoint}, sampler ${samplerName}${samplerArg === undefined ? "" : ` (${samplerArg})`}${contextKind}`,
    shutdown: () => provider.shutdown(),
  };
  return started;
}

/**
 * The sampling decision for new traces of hot server methods (new-trace-sampling.ts), when
 * startTracing turned tracing on; undefined otherwise (a provider set up elsewhere decides in
 * its tracer as usual).
 */
export function newTraceSampling(): NewTraceSampling | undefined {
  return sampling;
}

/** Whether startTracing turned tracing on in this process. */
export function tracingEnabled(): boolean {
  return started?.enabled ?? false;
}

/** The tracer of this code base's own spans (a no-op tracer while tracing is off). */
export function meshTracer(): ReturnType<typeof trace.getTracer> {
  return trace.getTracer("liver-mesh");
}

/** A link to `context` when it is a real (sampled or not) span context. */
export function linkTo(context: SpanContext | undefined, attributes?: Attributes): Link[] {
  if (context === undefined || !trace.isSpanContextValid(context)) return [];
  return [{ context, ...(attributes === undefined ? {} : { attributes }) }];
}

/** trace_id and span_id of the active span, for log lines; empty when there is none. */
export function activeTraceIds(): { trace_id: string; span_id: string } | Record<string, never> {
  const context = trace.getActiveSpan()?.spanContext();
  if (context === undefined || !trace.isSpanContextValid(context)) return {};
  return { trace_id: context.traceId, span_id: context.spanId };
}
