/**
 * Imported first by main.ts: tracing must start before anything loads @grpc/grpc-js, so its
 * instrumentation can patch it (services/shared/ops/tracing.ts). Off unless
 * OTEL_EXPORTER_OTLP_ENDPOINT is set.
 *
 * Synchronous context, not AsyncLocalStorage: on Node 20 AsyncLocalStorage puts a hook on
 * every promise and async resource of the process once any span has been entered, and that
 * was most of what tracing cost Predict (measured with `npm run bench -- --only tracing`,
 * 64 calls in flight, sampler at 1 %: calls/s on/off 0.91 with AsyncLocalStorage, figures
 * with the synchronous context in README, Tracing). Predict answers in the tick it receives a
 * call; the few paths that cross an await carry the context themselves.
 */
import { startTracing } from "../shared/ops/tracing.js";

export const tracing = startTracing("liver-predict", process.env, { context: "synchronous" });
