import { status } from "@grpc/grpc-js";
import { Counter, Histogram, type Registry } from "prom-client";

/** Latency buckets for in-process answers (tens of microseconds to a second). */
export const FAST_RPC_BUCKETS = [
  0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1,
];

/** One method's counters, resolved once when the handlers are wired (no label lookup per OK call). */
export interface MethodMetrics {
  /** Counts a finished call by its code and observes its latency. */
  answered(code: status, seconds: number): void;
}

/**
 * The per-method request metrics every service exports, counted by the middleware
 * (rpc-middleware.ts) rather than by handlers: `<prefix>_requests_total{method,code}` (code is
 * the gRPC status name, e.g. "OK", "INVALID_ARGUMENT") and
 * `<prefix>_handler_duration_seconds{method}` (time from request decoded to answer handed to
 * gRPC, authentication included). Dashboards and alerts read these names.
 */
export class RpcMetrics {
  private readonly requests: Counter<"method" | "code">;
  private readonly latency: Histogram<"method">;

  constructor(registry: Registry, prefix: string, buckets: readonly number[] = FAST_RPC_BUCKETS) {
    this.requests = new Counter({
      name: `${prefix}_requests_total`,
      help: "Calls answered, by method and gRPC status code name.",
      labelNames: ["method", "code"],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: `${prefix}_handler_duration_seconds`,
      help: "Time from request decoded to response handed to gRPC, by method.",
      labelNames: ["method"],
      buckets: [...buckets],
      registers: [registry],
    });
  }

  /** The counters of `method` (its RPC name, e.g. "Predict"). */
  method(method: string): MethodMetrics {
    const ok = this.requests.labels(method, "OK");
    const latency = this.latency.labels(method);
    return {
      answered: (code, seconds) => {
        if (code === status.OK) ok.inc();
        else this.requests.labels(method, status[code]).inc();
        latency.observe(seconds);
      },
    };
  }
}
