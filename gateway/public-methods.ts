/**
 * THE list of RPCs that browsers may call through the gateway. Both the local grpc-web
 * bridge (which refuses every other path) and the Envoy config check (which requires one
 * route per entry and no other route) read it, so the two gateways cannot drift apart.
 * Admin RPCs and the artifact download are deliberately absent: they are reached only
 * inside the cluster or through a port-forward. The two exceptions are ApproveModelVersion
 * and RejectModelVersion, which the page's admin view calls: the gateways forward them only
 * with a verified access token (JWT) that holds the admin role, so the break-glass
 * ADMIN_TOKEN never works through the gateway and RetrainService checks the role again.
 *
 * This module has no imports so the web UI bundle may use it too.
 */

/** Which upstream service answers a method: Predict replicas or the single Retrain replica. */
export type GatewayTarget = "predict" | "retrain";

/** One public RPC as the gateways route it. */
export interface PublicMethod {
  /** Fully qualified service name, e.g. "liver.v1.PredictService". */
  readonly service: string;
  /** RPC name as declared in the proto, e.g. "Predict". */
  readonly method: string;
  /** HTTP/2 path, "/<service>/<method>": what grpc-web clients POST to and Envoy matches exactly. */
  readonly path: string;
  /** Upstream that serves it. */
  readonly target: GatewayTarget;
  /** True for server-streaming RPCs: no overall timeout, only an idle timeout above the heartbeat. */
  readonly serverStreaming: boolean;
  /**
   * Longest a call may run, in seconds, when the client sends no shorter grpc-timeout; 0 for
   * streams (disabled). Envoy's route timeout and the bridge's default deadline both use it.
   */
  readonly timeoutSeconds: number;
  /**
   * Forwarded only with a verified access token holding the admin role (AUTH_ADMIN_ROLE):
   * Envoy's jwt_authn requires the token and its Lua filter the role; the local bridge
   * verifies both. Refused when sign-in is off.
   */
  readonly signedInAdminOnly: boolean;
}

function method(
  service: "PredictService" | "RetrainService",
  name: string,
  target: GatewayTarget,
  timeoutSeconds: number,
  serverStreaming = false,
  signedInAdminOnly = false,
): PublicMethod {
  const qualified = `liver.v1.${service}`;
  return {
    service: qualified,
    method: name,
    path: `/${qualified}/${name}`,
    target,
    serverStreaming,
    timeoutSeconds,
    signedInAdminOnly,
  };
}

/** Every public method. Order is documentation order only. */
export const PUBLIC_METHODS: readonly PublicMethod[] = Object.freeze([
  method("PredictService", "Predict", "predict", 10),
  // Up to 10,000 patients per batch: allow longer than a single prediction.
  method("PredictService", "PredictBatch", "predict", 30),
  method("PredictService", "GetModelInfo", "predict", 10),
  method("RetrainService", "SubmitFeedback", "retrain", 10),
  method("RetrainService", "GetRetrainStatus", "retrain", 10),
  method("RetrainService", "WatchModelVersions", "retrain", 0, true),
  method("RetrainService", "ListModelVersions", "retrain", 10),
  // The page's admin view: a signed-in admin decides on a candidate waiting for approval.
  method("RetrainService", "ApproveModelVersion", "retrain", 10, false, true),
  method("RetrainService", "RejectModelVersion", "retrain", 10, false, true),
]);

/**
 * Public methods the gateways retry after UNAVAILABLE or a reset: SubmitFeedback is
 * idempotent by its feedback token (a repeat answers `duplicate`). Envoy's route retry
 * policy and the local bridge both follow this list; the config test checks Envoy's.
 */
export const RETRIED_BY_GATEWAY: ReadonlySet<string> = new Set(["/liver.v1.RetrainService/SubmitFeedback"]);

/**
 * Paths the gateways must never route, with the reason. Listing them (rather than only the
 * public ones) lets the contract test insist that every RPC of the generated services has
 * been classified, so a new RPC cannot silently become public or silently stay unreachable.
 */
export const NON_PUBLIC_METHOD_PATHS: Readonly<Record<string, string>> = Object.freeze({
  "/liver.v1.RetrainService/TriggerRetrain": "admin: requires the admin bearer token",
  "/liver.v1.RetrainService/RollbackModel": "admin: requires the admin bearer token",
  "/liver.v1.RetrainService/GetModelArtifact": "internal: Predict replicas fetch model artifacts",
  "/liver.v1.RetrainService/ListFeedback": "admin: operator review; shows callers' addresses",
  "/liver.v1.RetrainService/ExcludeFeedback": "admin: requires the admin bearer token",
  "/liver.v1.RetrainService/ReleaseFeedback": "admin: requires the admin bearer token",
  "/liver.v1.RetrainService/ListFeedbackAudit": "admin: requires the admin bearer token",
});

const byPath = new Map<string, PublicMethod>(PUBLIC_METHODS.map((m) => [m.path, m]));

/** The public method served at `path`, or undefined when the gateway must refuse it. */
export function findPublicMethod(path: string): PublicMethod | undefined {
  return byPath.get(path);
}
