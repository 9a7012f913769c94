/**
 * Server spans for the unary calls of a hot service, started here instead of by
 * @opentelemetry/instrumentation-grpc. The instrumentation does its per-call work for every
 * call, sampled or not: it enters the call's context twice (AsyncLocalStorage), re-binds the
 * call's event emitter, wraps sendMetadata and the callback, and builds the span's
 * attributes. Profiled on Predict at 64 calls in flight with the sampler at 1 %, that was
 * most of what tracing cost (README, Tracing). Here the SDK's sampler decides first: a call
 * that starts no recorded span and carries no incoming trace context runs its handler as if
 * tracing were off (and, for a new trace, the process's sampler decides before any span is
 * made: new-trace-sampling.ts); a call that continues a caller's context runs inside it (its log lines
 * and any call it makes carry that trace); a sampled call gets the span the instrumentation
 * would have made (same name, kind and rpc.* attributes, status from the callback's error),
 * plus the attributes the service adds.
 */
import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  context,
  propagation,
  trace,
} from "@opentelemetry/api";
import type {
  Metadata,
  ServiceDefinition,
  UntypedHandleCall,
  UntypedServiceImplementation,
  handleUnaryCall,
  sendUnaryData,
} from "@grpc/grpc-js";
import type { NewTraceSampling } from "./new-trace-sampling.js";
import { claimServerSpans, meshTracer, newTraceSampling } from "./tracing.js";

/** The rpc.* attributes the gRPC instrumentation sets (OpenTelemetry semantic conventions). */
const ATTR_RPC_SYSTEM = "rpc.system";
const ATTR_RPC_SERVICE = "rpc.service";
const ATTR_RPC_METHOD = "rpc.method";
const ATTR_RPC_GRPC_STATUS_CODE = "rpc.grpc.status_code";
const ATTR_GRPC_ERROR_NAME = "grpc.error.name";
const ATTR_GRPC_ERROR_MESSAGE = "grpc.error.message";

/** Reads propagation fields from gRPC metadata (the first value of each key). */
const METADATA_GETTER: TextMapGetter<Metadata> = {
  get: (carrier, key) => {
    const values = carrier.get(key);
    return values.length === 0 ? undefined : values.map(String);
  },
  keys: (carrier) => Object.keys(carrier.getMap()),
};

type UnaryHandler = handleUnaryCall<unknown, unknown>;

/**
 * `implementation` with a server span around each unary method of `definition` (while
 * tracing is on); streaming methods are left to the gRPC instrumentation. `attributes` adds
 * the service's own attributes to a recorded span, computed only for calls that record one.
 */
export function traceUnaryCalls(
  definition: ServiceDefinition,
  implementation: UntypedServiceImplementation,
  attributes: () => Attributes = () => ({}),
  /** Decides new traces before a span is made; the process's own when tracing.ts started it. */
  sampling: NewTraceSampling | undefined = newTraceSampling(),
): UntypedServiceImplementation {
  const traced: UntypedServiceImplementation = { ...implementation };
  // The fields the configured propagators read (W3C traceparent, tracestate, baggage, ...).
  const fields = propagation.fields();
  for (const [key, method] of Object.entries(definition)) {
    const handler = implementation[key];
    if (handler === undefined || method.requestStream || method.responseStream) continue;
    const [service = "", name = ""] = method.path.slice(1).split("/");
    claimServerSpans(name);
    traced[key] = tracedUnary(handler as UnaryHandler, {
      spanName: `grpc.${service}/${name}`,
      rpc: { [ATTR_RPC_SYSTEM]: "grpc", [ATTR_RPC_METHOD]: name, [ATTR_RPC_SERVICE]: service },
      fields,
      attributes,
      sampling,
    }) as UntypedHandleCall;
  }
  return traced;
}

interface SpanRecipe {
  readonly spanName: string;
  readonly rpc: Attributes;
  readonly fields: readonly string[];
  readonly attributes: () => Attributes;
  readonly sampling: NewTraceSampling | undefined;
}

function tracedUnary(handler: UnaryHandler, recipe: SpanRecipe): UnaryHandler {
  const tracer = meshTracer();
  return (call, callback) => {
    const parent = incomingContext(call.metadata, recipe.fields);
    // A new trace the sampler drops costs no span at all; a sampled one is started at once
    // with the trace id the sampler decided on.
    if (
      parent === undefined &&
      recipe.sampling?.recordsNewTrace(recipe.spanName, SpanKind.SERVER) === false
    ) {
      return handler(call, callback);
    }
    const span = tracer.startSpan(recipe.spanName, { kind: SpanKind.SERVER }, parent ?? ROOT_CONTEXT);
    if (!span.isRecording()) {
      // Not sampled. A new trace nobody will see needs no context; a caller's does.
      if (parent === undefined) return handler(call, callback);
      return context.with(trace.setSpan(parent, span), () => handler(call, callback));
    }
    span.setAttributes(recipe.rpc);
    span.setAttributes(recipe.attributes());
    let ended = false;
    const ending: sendUnaryData<unknown> = (error, ...rest) => {
      ended = true;
      if (error === null) {
        span.setAttribute(ATTR_RPC_GRPC_STATUS_CODE, 0);
      } else {
        // grpc-js answers a status-less error as UNKNOWN (2).
        const code: number = error.code ?? 2;
        span.setAttribute(ATTR_RPC_GRPC_STATUS_CODE, code);
        const message = error.details ?? (error instanceof Error ? error.message : "");
        if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message });
        if (error instanceof Error) {
          span.setAttributes({
            [ATTR_GRPC_ERROR_NAME]: error.name,
            [ATTR_GRPC_ERROR_MESSAGE]: error.message,
          });
        }
      }
      span.end();
      callback(error, ...rest);
    };
    context.with(trace.setSpan(parent ?? ROOT_CONTEXT, span), () => {
      try {
        handler(call, ending);
      } catch (error) {
        if (!ended) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
          span.end();
        }
        throw error;
      }
    });
  };
}

/** The caller's trace context, when the call carries any propagation field. */
function incomingContext(metadata: Metadata, fields: readonly string[]): Context | undefined {
  for (const field of fields) {
    if (metadata.get(field).length > 0) return propagation.extract(ROOT_CONTEXT, metadata, METADATA_GETTER);
  }
  return undefined;
}
