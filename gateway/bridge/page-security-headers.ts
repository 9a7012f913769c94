/**
 * The response headers the web page is served with, by the local bridge and (the same values,
 * checked by gateway/envoy-config.test.ts) by Envoy's page routes. The page holds the sign-in
 * cookie's session and shows patient values, so:
 *
 * - Content-Security-Policy allows only the page's own origin for scripts, styles and calls,
 *   and nothing inline: index.html has no inline script or style, and the page's code sets
 *   styles through the CSSOM, which CSP does not restrict. `frame-ancestors 'none'` stops
 *   clickjacking (no site may frame the page); `base-uri` and `form-action` stop injected
 *   markup from redirecting links or forms.
 * - Referrer-Policy: no-referrer, so no URL of the page leaks to another site.
 * - Strict-Transport-Security only over HTTPS (a browser ignores it over plain HTTP, and
 *   sending it there would say something untrue).
 */

/** The page's Content-Security-Policy. */
export const PAGE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** One year, the common minimum for HSTS preload lists. */
export const PAGE_HSTS = "max-age=31536000";

/** The headers for the page's files; `https` adds HSTS. Names are lower-case. */
export function pageSecurityHeaders(https: boolean): Readonly<Record<string, string>> {
  return {
    "content-security-policy": PAGE_CONTENT_SECURITY_POLICY,
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    ...(https ? { "strict-transport-security": PAGE_HSTS } : {}),
  };
}
