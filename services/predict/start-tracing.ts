/**
 * Imported first by main.ts: tracing must start before anything loads @grpc/grpc-js, so its
 * instrumentation can patch it (services/shared/ops/tracing.ts). Off unless
 * OTEL_EXPORTER_OTLP_ENDPOINT is set.
 *
 * Synchronous context, not AsyncLocalStorage: on Node 20 AsyncLocalStorage puts a hook on
 * every promise and async resource of the process once any span has been entered, and in a
 * profile of a replica at 64 calls in flight with the sampler at 1 % those hooks took 4.9 % of
 * its busy time (0.2 % on the synchronous context). `npm run bench -- --only tracing`, calls/s
 * with tracing on at 1 % / off: 0.906 on AsyncLocalStorage; 1.013, 0.958 and 1.013 now
 * (with new traces decided before their span, new-trace-sampling.ts; 100 %: 0.897, 0.875,
 * 0.883). Predict answers in the tick it receives a call; the few paths that wait carry the
 * context over themselves (README, Tracing).
 */
import { startTracing } from "../shared/ops/tracing.js";

export const tracing = startTracing("liver-predict", process.env, { context: "synchronous" });
