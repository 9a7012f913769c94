import type { IncomingHttpHeaders } from "node:http";

/**
 * Translation between HTTP/1.1 headers of a grpc-web exchange and the gRPC metadata carried
 * as HTTP/2 headers upstream: which headers are the call's metadata (the rest are about the
 * HTTP hop or the browser), how binary "-bin" values travel, and the grpc-timeout syntax.
 */

/** Headers that describe the HTTP hop, the browser or the grpc-web framing, never the call. */
const NOT_METADATA = new Set(
  `accept accept-encoding accept-language access-control-request-headers access-control-request-method
  cache-control connection content-length content-type cookie dnt expect host keep-alive origin pragma
  priority proxy-authorization proxy-connection referer te trailer transfer-encoding upgrade user-agent
  via x-grpc-web x-user-agent`.split(/\s+/),
);

/** Browser fetch metadata headers (sec-fetch-*, sec-ch-*) and other transport prefixes. */
const NOT_METADATA_PREFIXES = ["sec-", "proxy-", "grpc-", ":"];

const METADATA_KEY = /^[0-9a-z_.-]+$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Thrown for a request header that cannot travel as gRPC metadata; names the header. */
export class InvalidMetadataError extends Error {}

/** Decodes and re-encodes each comma-separated base64 value: what gRPC sends for "-bin" keys. */
function normalizeBinary(value: string): string {
  // Repeated binary values arrive comma-joined; base64 never contains a comma.
  return value
    .split(",")
    .map((item) => Buffer.from(item.trim(), "base64").toString("base64"))
    .join(",");
}

/**
 * The gRPC metadata a grpc-web request carries, as HTTP/2 request headers: its headers
 * minus the HTTP-only ones. Text values must be printable ASCII, as gRPC requires (throws
 * InvalidMetadataError naming the header otherwise); "-bin" values are base64, normalized.
 */
export function requestHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || isHttpOnlyHeader(name) || !METADATA_KEY.test(name)) continue;
    // node:http joins repeated headers with ", " (set-cookie, the one array, is HTTP-only).
    const joined = Array.isArray(value) ? value.join(", ") : value;
    if (name.endsWith("-bin")) {
      metadata[name] = normalizeBinary(joined);
    } else if (PRINTABLE_ASCII.test(joined)) {
      metadata[name] = joined;
    } else {
      throw new InvalidMetadataError(
        `header ${name} is not printable ASCII; gRPC metadata values must be (or use a "-bin" key with base64)`,
      );
    }
  }
  return metadata;
}

/**
 * The metadata with the browser's socket address appended to x-forwarded-for, as Envoy
 * does with use_remote_address: the services believe only this last entry, and only from
 * a trusted gateway; entries the browser sent itself stay in front, where nobody trusts
 * them. Without a socket address the browser's own header is dropped, since its last
 * entry would otherwise pass for the gateway's. A browser's x-liver-site is always dropped.
 */
export function withForwardedFor(
  metadata: Record<string, string>,
  remoteAddress: string | undefined,
): Record<string, string> {
  // The site is the gateway's to say (Envoy sets it per listener); the local bridge serves the
  // default site, so a browser's own x-liver-site never passes for the gateway's.
  delete metadata["x-liver-site"];
  const sent = metadata["x-forwarded-for"];
  if (remoteAddress === undefined || remoteAddress === "") {
    delete metadata["x-forwarded-for"];
    return metadata;
  }
  const address = remoteAddress.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, "");
  metadata["x-forwarded-for"] = sent === undefined || sent.trim() === "" ? address : `${sent}, ${address}`;
  return metadata;
}

const TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000_001 };

/**
 * Milliseconds of a grpc-timeout header ("1-8 digits + unit": H, M, S, m, u, n). Throws with
 * the accepted syntax when malformed.
 */
export function parseGrpcTimeout(value: string): number {
  const match = TIMEOUT.exec(value.trim());
  const unit = match?.[2];
  if (match === null || unit === undefined) {
    throw new Error(`grpc-timeout "${value}" is not 1 to 8 digits followed by one of H, M, S, m, u, n`);
  }
  return Number(match[1]) * (UNIT_MS[unit] ?? 0);
}

/** Whether a header name belongs to the HTTP hop rather than to the call's metadata. */
export function isHttpOnlyHeader(name: string): boolean {
  return NOT_METADATA.has(name) || NOT_METADATA_PREFIXES.some((p) => name.startsWith(p));
}
