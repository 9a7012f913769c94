import pino, { type Logger } from "pino";
import { activeTraceIds } from "./tracing.js";

/**
 * JSON logs to stdout, one logger per process, named after the service. LOG_LEVEL sets the
 * level (default "info"; tests use "silent" unless they look at logs). A line written while a
 * span is active carries its trace_id and span_id (services/shared/ops/tracing.ts).
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino({ name: service, level, base: { service, pid: process.pid }, mixin: activeTraceIds });
}
