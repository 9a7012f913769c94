import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace } from "@opentelemetry/api";
import { ATTR_SITE, DEFAULT_SITE, meshTracer, tracingEnabled } from "../../services/shared/ops/tracing.js";

/** Ends a call's span with the gRPC status code it ended with. */
export type EndCallSpan = (code: number) => void;

const NOTHING: EndCallSpan = () => undefined;

/**
 * A span for one call the bridge forwards, continuing the page's W3C traceparent (from the
 * request headers, already copied into `metadata`) and handing its own on upstream, so the
 * service's span is its child. While tracing is off the page's traceparent passes through
 * untouched, and the service continues the page's trace itself.
 */
export function startCallSpan(path: string, metadata: Record<string, string>): EndCallSpan {
  if (!tracingEnabled()) return NOTHING;
  const parent = propagation.extract(ROOT_CONTEXT, metadata);
  const span = meshTracer().startSpan(
    `grpc-web ${path}`,
    {
      kind: SpanKind.SERVER,
      attributes: { "rpc.system": "grpc", "rpc.method": path, [ATTR_SITE]: DEFAULT_SITE },
    },
    parent,
  );
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(parent, span), carrier);
  for (const [key, value] of Object.entries(carrier)) metadata[key] = value;
  return (code) => {
    span.setAttribute("rpc.grpc.status_code", code);
    if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  };
}
