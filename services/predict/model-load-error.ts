import type { SwapFailureStage } from "./predict-metrics.js";

/**
 * Why a model version could not be made serving, and at which stage. `retryable` is true
 * for failures of the transport (Retrain down, deadline), which the next heartbeat naming
 * the version retries; a version whose bytes fail verification or warm-up is not retried
 * on heartbeats, since the same sha256 means the same bytes.
 */
export class ModelLoadError extends Error {
  constructor(
    readonly stage: SwapFailureStage,
    message: string,
    readonly retryable = false,
  ) {
    super(message);
    this.name = "ModelLoadError";
  }
}

/** The message of any thrown value, first line only (tfjs and grpc errors can be long). */
export function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0] ?? text;
}
