import type { IncomingHttpHeaders } from "node:http";
import { status as Status } from "@grpc/grpc-js";

/**
 * Translation between HTTP/1.1 headers of a grpc-web exchange and the gRPC metadata carried
 * as HTTP/2 headers upstream: which headers are the call's metadata (the rest are about the
 * HTTP hop or the browser), how binary "-bin" values travel, and the grpc-timeout syntax.
 */

/** Headers that describe the HTTP hop, the browser or the grpc-web framing, never the call. */
const NOT_METADATA = new Set(
  `accept accept-encoding accept-language access-control-request-headers access-control-request-method
  cache-control connection content-length content-type cookie dnt expect host http2-settings keep-alive
  origin pragma priority proxy-authorization proxy-connection referer set-cookie te trailer
  transfer-encoding upgrade user-agent via x-grpc-web x-user-agent`.split(/\s+/),
);

/**
 * Most metadata entries one call may carry. A browser sends a handful; gRPC servers reset a
 * stream whose header list exceeds their limit (Node's default is 128 pairs), which a client
 * would read as an unexplained INTERNAL.
 */
export const MAX_METADATA_ENTRIES = 64;

/** Browser fetch metadata headers (sec-fetch-*, sec-ch-*) and other transport prefixes. */
const NOT_METADATA_PREFIXES = ["sec-", "proxy-", "grpc-", "access-control-", ":"];

const METADATA_KEY = /^[0-9a-z_.-]+$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** A grpc-web request refused before any upstream call, answered trailers-only with `code`. */
export class Refusal extends Error {
  constructor(
    readonly code: Status,
    message: string,
  ) {
    super(message);
  }
}

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
 * minus the HTTP-only ones. Text values must be printable ASCII, as gRPC requires (a Refusal
 * with INVALID_ARGUMENT naming the header otherwise); "-bin" values are base64, normalized.
 */
export function requestHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const metadata: Record<string, string> = {};
  // Headers the request names in Connection are about this hop only (RFC 9110, 7.6.1).
  const hopOnly = new Set((headers.connection ?? "").split(",").map((name) => name.trim().toLowerCase()));
  let entries = 0;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || isHttpOnlyHeader(name) || hopOnly.has(name) || !METADATA_KEY.test(name))
      continue;
    if (++entries > MAX_METADATA_ENTRIES) {
      throw new Refusal(
        Status.INVALID_ARGUMENT,
        `the request carries more than ${MAX_METADATA_ENTRIES} metadata headers; at most ${MAX_METADATA_ENTRIES} pass the gateway`,
      );
    }
    // node:http joins repeated headers with ", " (set-cookie, the one array, is HTTP-only).
    const joined = Array.isArray(value) ? value.join(", ") : value;
    if (name.endsWith("-bin")) {
      metadata[name] = normalizeBinary(joined);
    } else if (PRINTABLE_ASCII.test(joined)) {
      metadata[name] = joined;
    } else {
      throw new Refusal(
        Status.INVALID_ARGUMENT,
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
 * Milliseconds of a grpc-timeout header ("1-8 digits + unit": H, M, S, m, u, n). A Refusal
 * (INVALID_ARGUMENT) naming the accepted syntax when malformed.
 */
export function parseGrpcTimeout(value: string): number {
  const match = TIMEOUT.exec(value.trim());
  const unit = match?.[2];
  if (match === null || unit === undefined) {
    throw new Refusal(
      Status.INVALID_ARGUMENT,
      `grpc-timeout "${value}" is not 1 to 8 digits followed by one of H, M, S, m, u, n`,
    );
  }
  return Number(match[1]) * (UNIT_MS[unit] ?? 0);
}

/**
 * `ms` as a grpc-timeout header: at most 8 digits, as the gRPC protocol allows, in the finest
 * unit that fits (milliseconds up to 27.7 hours, then seconds, minutes, hours), rounded up
 * so the upstream never gets less time than the caller gave.
 */
export function formatGrpcTimeout(ms: number): string {
  for (const unit of ["m", "S", "M", "H"] as const) {
    const value = Math.max(1, Math.ceil(ms / (UNIT_MS[unit] ?? 1)));
    if (value <= 99_999_999) return `${value}${unit}`;
  }
  return "99999999H";
}

/** Whether a header name belongs to the HTTP hop rather than to the call's metadata. */
export function isHttpOnlyHeader(name: string): boolean {
  return NOT_METADATA.has(name) || NOT_METADATA_PREFIXES.some((p) => name.startsWith(p));
}
