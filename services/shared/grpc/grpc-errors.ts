import { Metadata, status, type StatusObject } from "@grpc/grpc-js";
import type { FieldViolation } from "../features/feature-schema.js";

/** A status a handler answers with; grpc-js accepts it for unary callbacks and stream errors. */
export type GrpcStatusError = Partial<StatusObject> & { code: status; details: string };

/** Builds an error status with a message a person can act on. */
export function grpcError(code: status, details: string): GrpcStatusError {
  return { code, details, metadata: new Metadata() };
}

/** INVALID_ARGUMENT listing every violation, each naming its field and valid range. */
export function invalidArgument(violations: readonly FieldViolation[]): GrpcStatusError {
  const shown = violations.slice(0, 20).map((v) => v.description);
  const more = violations.length > shown.length ? `; and ${violations.length - shown.length} more` : "";
  return grpcError(status.INVALID_ARGUMENT, `${shown.join("; ")}${more}`);
}

/** Whether a thrown value already is a status to pass on as it is. */
export function isGrpcStatusError(value: unknown): value is GrpcStatusError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { code?: unknown }).code === "number" &&
    typeof (value as { details?: unknown }).details === "string"
  );
}
