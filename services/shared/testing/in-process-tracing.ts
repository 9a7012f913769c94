/**
 * Tracing on in this test process, exported over OTLP/HTTP (JSON) to a receiver in it: the
 * services' own startTracing (SDK, gRPC instrumentation, link-following sampler, exporter), so
 * in-process servers trace exactly as they do in production. Import it first in a test file:
 * the gRPC instrumentation patches @grpc/grpc-js only if it is loaded after tracing starts
 * (services/shared/ops/tracing.ts), and tracing starts once per process (vitest runs each test
 * file in a process of its own).
 */
import { createRequire } from "node:module";
import { startTracing } from "../ops/tracing.js";
import { OtlpReceiver } from "./otlp-receiver.js";

const require = createRequire(import.meta.url);
if (require.cache[require.resolve("@grpc/grpc-js")] !== undefined) {
  throw new Error(
    "@grpc/grpc-js was loaded before in-process-tracing.ts: import it first, or gRPC calls go untraced",
  );
}

/** The service.name this process's spans carry. */
export const TEST_SERVICE_NAME = "in-process-test";

/** Every span this process exports. */
export const receiver = new OtlpReceiver();
const endpoint = await receiver.listen();
Object.assign(process.env, {
  OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
  OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
  OTEL_SERVICE_NAME: TEST_SERVICE_NAME,
  OTEL_BSP_SCHEDULE_DELAY: "50",
});
/** The process's tracing; shut it down (it flushes) before closing the receiver. */
export const tracing = startTracing(TEST_SERVICE_NAME);
if (!tracing.enabled) throw new Error(`tracing did not start: ${tracing.description}`);
