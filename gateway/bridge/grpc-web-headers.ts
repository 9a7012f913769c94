import type { IncomingHttpHeaders } from "node:http";
import { Metadata, type MetadataValue } from "@grpc/grpc-js";

/**
 * Translation between HTTP/1.1 headers of a grpc-web exchange and gRPC metadata: which
 * headers are the call's metadata (the rest are about the HTTP hop or the browser), how
 * binary "-bin" values travel, and the grpc-timeout syntax.
 */

/** Headers that describe the HTTP hop, the browser or the grpc-web framing, never the call. */
const NOT_METADATA = new Set([
  "accept",
  "accept-encoding",
  "accept-language",
  "access-control-request-headers",
  "access-control-request-method",
  "cache-control",
  "connection",
  "content-length",
  "content-type",
  "cookie",
  "dnt",
  "expect",
  "host",
  "keep-alive",
  "origin",
  "pragma",
  "priority",
  "proxy-authorization",
  "proxy-connection",
  "referer",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "user-agent",
  "via",
  "x-grpc-web",
  "x-user-agent",
]);

/** Browser fetch metadata headers (sec-fetch-*, sec-ch-*) and other transport prefixes. */
const NOT_METADATA_PREFIXES = ["sec-", "proxy-", "grpc-", ":"];

const METADATA_KEY = /^[0-9a-z_.-]+$/;

/** The gRPC metadata a grpc-web request carries: its headers minus the HTTP-only ones. */
export function requestMetadata(headers: IncomingHttpHeaders): Metadata {
  const metadata = new Metadata();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || isHttpOnlyHeader(name) || !METADATA_KEY.test(name)) continue;
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (!name.endsWith("-bin")) {
        metadata.add(name, v);
        continue;
      }
      // Repeated binary values arrive comma-joined; base64 never contains a comma.
      for (const item of v.split(",")) metadata.add(name, Buffer.from(item.trim(), "base64"));
    }
  }
  return metadata;
}

function headerValue(name: string, value: MetadataValue): string {
  return name.endsWith("-bin") && Buffer.isBuffer(value) ? value.toString("base64") : String(value);
}

/** Metadata as (name, value) header pairs; binary values base64-encoded as gRPC does. */
export function metadataToHeaders(metadata: Metadata): [string, string][] {
  const out: [string, string][] = [];
  // getMap keeps only the first value per key: use it for the names, get() for all values.
  for (const name of Object.keys(metadata.getMap())) {
    for (const value of metadata.get(name)) out.push([name, headerValue(name, value)]);
  }
  return out;
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
