/**
 * The bridge's CORS rules, mirroring the CorsPolicy in envoy.yaml: only listed origins
 * (never "*"), POST with the grpc-web request headers, and grpc-status/grpc-message
 * readable by the page. `authorization` is not allowed: admin calls never cross the gateway.
 */

/** Request headers a grpc-web page may send. */
export const CORS_ALLOWED_HEADERS =
  "content-type, x-grpc-web, x-user-agent, grpc-timeout, traceparent, tracestate";
/** Response headers a grpc-web page must be able to read. */
export const CORS_EXPOSED_HEADERS = "grpc-status, grpc-message";
const MAX_AGE_SECONDS = "86400";

/** Decides and writes the CORS headers for one configured set of origins. */
export class CorsPolicy {
  private readonly origins: ReadonlySet<string>;

  constructor(origins: readonly string[]) {
    if (origins.includes("*")) throw new Error('CORS origins: "*" is not allowed; list each origin');
    this.origins = new Set(origins);
  }

  /** Whether a request with this Origin header may read the response. */
  allows(origin: string | undefined): origin is string {
    return origin !== undefined && this.origins.has(origin);
  }

  /** Headers for an actual (non-preflight) grpc-web response. */
  responseHeaders(origin: string | undefined): Record<string, string> {
    if (!this.allows(origin)) return { vary: "Origin" };
    return {
      vary: "Origin",
      "access-control-allow-origin": origin,
      "access-control-expose-headers": CORS_EXPOSED_HEADERS,
    };
  }

  /** Headers answering a preflight, or undefined when the origin is not allowed. */
  preflightHeaders(origin: string | undefined): Record<string, string> | undefined {
    if (!this.allows(origin)) return undefined;
    return {
      vary: "Origin",
      "access-control-allow-origin": origin,
      "access-control-allow-methods": "POST, OPTIONS",
      "access-control-allow-headers": CORS_ALLOWED_HEADERS,
      "access-control-max-age": MAX_AGE_SECONDS,
    };
  }
}
