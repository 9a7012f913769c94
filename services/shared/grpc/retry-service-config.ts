/**
 * The gRPC service config every internal caller of liver.v1 uses (grpc-js channel option
 * "grpc.service_config"; the same JSON works for any gRPC library that reads service configs):
 * calls that are safe to repeat are retried on UNAVAILABLE, with exponential backoff and gRPC's
 * retry throttling, so a Retrain restart costs a caller a short delay rather than an error.
 *
 * Which calls: reads (GetModelArtifact, GetModelInfo, GetRetrainStatus, ListModelVersions,
 * ListFeedback, ListFeedbackAudit) and SubmitFeedback, which is idempotent by its token (a
 * repeat answers `duplicate`). Never retried here: Predict and PredictBatch (each answer gets a
 * fresh prediction id), TriggerRetrain, RollbackModel and the approval and review actions
 * (an operator's action, repeated only by the operator), and server streams (their callers
 * reconnect with their own position, as the version subscriber does).
 */

/** Methods retried on UNAVAILABLE, by service. */
export const RETRIED_METHODS: Readonly<Record<string, readonly string[]>> = {
  "liver.v1.RetrainService": [
    "SubmitFeedback",
    "GetModelArtifact",
    "GetRetrainStatus",
    "ListModelVersions",
    "ListFeedback",
    "ListFeedbackAudit",
  ],
  "liver.v1.PredictService": ["GetModelInfo"],
};

/** The retry policy: four attempts in all, 0.25 s doubling to 2 s, on UNAVAILABLE only. */
export const RETRY_POLICY = {
  maxAttempts: 4,
  initialBackoff: "0.25s",
  maxBackoff: "2s",
  backoffMultiplier: 2,
  retryableStatusCodes: ["UNAVAILABLE"],
} as const;

/** gRPC's retry throttling: retries stop while more than half of the last failures were retried in vain. */
export const RETRY_THROTTLING = { maxTokens: 10, tokenRatio: 0.1 } as const;

/** The service config as a JSON string, for the "grpc.service_config" channel option. */
export function retryServiceConfig(): string {
  return JSON.stringify({
    methodConfig: [
      {
        name: Object.entries(RETRIED_METHODS).flatMap(([service, methods]) =>
          methods.map((method) => ({ service, method })),
        ),
        retryPolicy: RETRY_POLICY,
      },
    ],
    retryThrottling: RETRY_THROTTLING,
  });
}

/** Channel options that turn the policy on (grpc-js). */
export function retryChannelOptions(): Record<string, string | number> {
  return { "grpc.service_config": retryServiceConfig(), "grpc.enable_retries": 1 };
}
