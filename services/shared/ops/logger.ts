import pino, { type Logger } from "pino";

/**
 * JSON logs to stdout, one logger per process, named after the service. LOG_LEVEL sets the
 * level (default "info"; tests use "silent" unless they look at logs).
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino({ name: service, level, base: { service, pid: process.pid } });
}
