/**
 * gRPC status codes and the error the browser client throws, so every part of the page can
 * tell "the service is down, retry" (UNAVAILABLE) from "your input is wrong" (INVALID_ARGUMENT)
 * without parsing message text.
 */

/** The gRPC status codes, by number. */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** A gRPC status code number. */
export type GrpcCodeNumber = (typeof GrpcCode)[keyof typeof GrpcCode];

const NAMES = Object.keys(GrpcCode) as (keyof typeof GrpcCode)[];

/** "UNAVAILABLE" for 14; "CODE_<n>" for numbers outside the table. */
export function grpcCodeName(code: number): string {
  return NAMES.find((name) => GrpcCode[name] === code) ?? `CODE_${code}`;
}

/**
 * The status a grpc-web client must assume when a response carries no grpc-status, from its
 * HTTP status (the mapping of gRPC's http-grpc-status-mapping.md).
 */
export function grpcCodeFromHttpStatus(httpStatus: number): GrpcCodeNumber {
  switch (httpStatus) {
    case 400:
      return GrpcCode.INTERNAL;
    case 401:
      return GrpcCode.UNAUTHENTICATED;
    case 403:
      return GrpcCode.PERMISSION_DENIED;
    case 404:
      return GrpcCode.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcCode.UNAVAILABLE;
    default:
      return GrpcCode.UNKNOWN;
  }
}

/** A failed call: the status code, the server's (or client's) message, and any trailers. */
export class GrpcWebError extends Error {
  override readonly name = "GrpcWebError";

  constructor(
    /** gRPC status code number. */
    readonly code: number,
    /** The status message alone, without the code name. */
    readonly details: string,
    /** The RPC path that failed, for messages that say which service is affected. */
    readonly path: string,
    /** Trailers (or headers, for a trailers-only response) with lower-case names. */
    readonly metadata: ReadonlyMap<string, string> = new Map(),
  ) {
    super(`${grpcCodeName(code)}: ${details}`);
  }

  /** "UNAVAILABLE" etc. */
  get codeName(): string {
    return grpcCodeName(this.code);
  }

  /** True for failures that say nothing about the request and may succeed if retried later. */
  get isTransient(): boolean {
    return (
      this.code === GrpcCode.UNAVAILABLE ||
      this.code === GrpcCode.DEADLINE_EXCEEDED ||
      this.code === GrpcCode.RESOURCE_EXHAUSTED ||
      this.code === GrpcCode.UNKNOWN ||
      this.code === GrpcCode.INTERNAL
    );
  }
}

/** Any thrown value as a GrpcWebError (non-gRPC failures become UNKNOWN with their text). */
export function toGrpcWebError(error: unknown, path: string): GrpcWebError {
  if (error instanceof GrpcWebError) return error;
  const text = error instanceof Error ? error.message : String(error);
  return new GrpcWebError(GrpcCode.UNKNOWN, text, path);
}
