/**
 * Imported first by main.ts: tracing must start before the rest of the bridge loads
 * (services/shared/ops/tracing.ts). Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
 */
import { startTracing } from "../../services/shared/ops/tracing.js";

export const tracing = startTracing("liver-grpc-web-bridge");
