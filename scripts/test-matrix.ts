/**
 * The test matrix of vitest.config.ts. `npm test` runs two projects:
 *
 * - "plaintext": every test file (unit and integration), TLS off unless a test makes its own.
 * - "tls": the files below again, with TEST_TLS_DIR set, so every server a fixture starts
 *   (RetrainService, PredictService replicas in-process and as child processes, fakes, the
 *   grpc-web bridge) and every client a fixture opens (gRPC clients, health probes, the
 *   bridge's upstream calls, Predict's version stream to Retrain, the browser's page) speaks
 *   mTLS with one throwaway PKI per run (services/shared/testing/test-tls.ts).
 *
 * The "tls" project lists files, not a glob: only files that start servers and open gRPC
 * connections between them can show anything new over TLS; a unit test rerun there would only
 * double its time. scripts/test-matrix.test.ts fails when a test file that starts a server is
 * in neither list below, so a new integration test cannot silently stay plaintext-only.
 */

/** Every test file (both projects draw from these globs). */
export const ALL_TEST_FILES: readonly string[] = [
  "services/**/*.test.ts",
  "gateway/**/*.test.ts",
  "scripts/**/*.test.ts",
  "k8s-manifests/**/*.test.ts",
  "data/**/*.test.ts",
];

/** Files that only make sense over mTLS (they prove the matrix really uses it): "tls" only. */
export const TLS_ONLY_FILES: readonly string[] = ["services/shared/testing/tls-matrix.test.ts"];

/** Integration tests rerun over mTLS in the "tls" project. */
export const TLS_PROJECT_FILES: readonly string[] = [
  // RetrainService in-process: feedback, the version stream, admin RPCs, recovery, health.
  "services/retrain/retrain-server.test.ts",
  "services/retrain/retrain-auth.test.ts",
  "services/retrain/retrain-recovery.test.ts",
  "services/retrain/original-data-switch.test.ts",
  "services/retrain/retrain-real-data.test.ts",
  "services/retrain/feedback-integrity.test.ts",
  "services/retrain/feedback-review.test.ts",
  "services/retrain/feedback-outcome.test.ts",
  "services/retrain/model-approval.test.ts",
  // Sites: a token from one site refused at another; per-site calibration end to end; idempotency at the limit.
  "services/retrain/site-isolation.test.ts",
  "services/retrain/feedback-idempotency.test.ts",
  // Calibration drift per site reported by GetRetrainStatus and the metrics.
  "services/retrain/site-calibration-drift-server.test.ts",
  // RetrainService as a child process, killed with SIGKILL.
  "services/retrain/feedback-durability.test.ts",
  // PredictService replicas against the fake and the real Retrain (in-process and child process).
  "services/predict/predict-server.test.ts",
  "services/predict/predict-service.test.ts",
  "services/predict/predict-auth.test.ts",
  "services/predict/open-inference.test.ts",
  "services/predict/version-subscriber.test.ts",
  "services/predict/live-updates.test.ts",
  "services/predict/predict-sites.test.ts",
  // Both services through the middleware: attackers' metadata, unknown errors.
  "services/shared/grpc/middleware-on-both-services.test.ts",
  // The shared server host: reflection, health, message limits.
  "services/shared/grpc/grpc-server-host.test.ts",
  // The grpc-web bridge and its upstream calls; the page in Chromium through it.
  "gateway/bridge/grpc-web-bridge.test.ts",
  "gateway/bridge/session-cookie.test.ts",
  "gateway/web/e2e.test.ts",
  "gateway/web/e2e-auth.test.ts",
  "gateway/web/e2e-approval.test.ts",
];

/** Files that start servers but stay out of the "tls" project, and why. */
export const LEFT_OUT_OF_TLS: Readonly<Record<string, string>> = {
  "services/predict/mtls-mesh.test.ts":
    "tests TLS itself with its own PKI (mTLS mesh; plaintext and certificate-less clients refused)",
  "services/shared/tls/grpc-tls-credentials.test.ts":
    "tests TLS itself: credentials, rotation, expired and mismatched files, the plaintext health port",
  "gateway/bridge/bridge-tls.test.ts": "tests the bridge's HTTPS listener and upstream TLS with its own PKI",
  "gateway/web/e2e-tls.test.ts": "the page over HTTPS with mTLS on every hop, with its own PKI",
  "gateway/web/grpc-web-client.test.ts":
    "the page's grpc-web client in Chromium against a scripted HTTP server that plays the gateway's wire cases; no gRPC hop to secure (e2e-tls.test.ts runs the real client over HTTPS)",
  "k8s-manifests/manifests-run-here.test.ts":
    "runs the manifests' own settings, which already mount TLS Secrets (its own CA) on every hop",
  "gateway/web/browser-trusted-ca.test.ts":
    "tests the browser's trust of a test CA itself, with plain HTTPS servers of its own and no gRPC",
  "services/shared/ops/server-call-tracing.test.ts":
    "checks the spans made around a handler on a plaintext server; the span bookkeeping is the same over TLS",
  "services/shared/ops/synchronous-context-manager.test.ts":
    "checks which span is active in a handler and its log lines on a plaintext server; the context bookkeeping is the same over TLS",
  "services/shared/ops/tracing.test.ts":
    "checks spans and links across child processes; the transports are the ones the other process tests run over mTLS",
  "services/retrain/approval-tracing.test.ts":
    "checks an approval's span and the swaps' links to it; its traceparent rides in gRPC metadata and the version event, which model-approval.test.ts runs over mTLS",
  "gateway/bridge/grpc-web-proxy.test.ts":
    "tests the bridge's proxy and retry against scripted raw HTTP/2 answers and hostile bodies; TLS adds nothing to what it checks",
  "services/shared/grpc/retry-service-config.test.ts":
    "tests grpc-js's retry policy against a scripted plaintext server; TLS adds nothing to what it checks",
  "gateway/web/e2e-outbox.test.ts":
    "outages, reloads and a lost answer are the same over any transport; e2e.test.ts runs the page over TLS",
  "services/shared/grpc/rpc-middleware.test.ts":
    "the middleware against a hand-written plaintext test service; both services' tests run it over mTLS",
  "services/predict/open-inference-python.test.ts":
    "a Python grpcio client over a plaintext channel; open-inference.test.ts runs every OIP call over mTLS",
  "gateway/bridge/static-files.test.ts":
    "tests file serving behind a plain HTTP server; grpc-web-bridge.test.ts serves the same files over the bridge's HTTPS listener",
  "gateway/envoy-config.test.ts":
    "starts a bridge only to compare its static page files with Envoy's routes; no gRPC connection",
};
