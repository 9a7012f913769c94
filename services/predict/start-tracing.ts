/**
 * Imported first by main.ts: tracing must start before anything loads @grpc/grpc-js, so its
 * instrumentation can patch it (services/shared/ops/tracing.ts). Off unless
 * OTEL_EXPORTER_OTLP_ENDPOINT is set.
 */
import { startTracing } from "../shared/ops/tracing.js";

export const tracing = startTracing("liver-predict");
