import type { status } from "@grpc/grpc-js";
import type { FieldViolation } from "../features/feature-schema.js";
import { grpcError, invalidArgument, type GrpcStatusError } from "./grpc-errors.js";

/**
 * A handler's refusal as a throwable Error carrying the gRPC status to answer with, so
 * validation deep in a handler can stop it and the middleware (rpc-middleware.ts) still
 * answers its code and message as they are. Domain refusals (a site that cannot be settled,
 * a version that cannot serve) are subclasses; any other exception is answered as a generic
 * INTERNAL.
 */
export class RpcFailure extends Error {
  constructor(readonly status: GrpcStatusError) {
    super(status.details);
    this.name = "RpcFailure";
  }
}

/** A refusal with a code and a message a person can act on. */
export function rpcFailure(code: status, details: string): RpcFailure {
  return new RpcFailure(grpcError(code, details));
}

/** INVALID_ARGUMENT listing every violation. */
export function invalidRequest(violations: readonly FieldViolation[]): RpcFailure {
  return new RpcFailure(invalidArgument(violations));
}
