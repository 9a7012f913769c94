import { status } from "@grpc/grpc-js";
import { grpcError, type GrpcStatusError } from "../grpc/grpc-errors.js";

/** Why a call was refused: no usable credential, a credential without the role, or no keys. */
export type AuthProblem = "unauthenticated" | "permission-denied" | "unavailable";

const CODES: Record<AuthProblem, status> = {
  unauthenticated: status.UNAUTHENTICATED,
  "permission-denied": status.PERMISSION_DENIED,
  unavailable: status.UNAVAILABLE,
};

/**
 * A refused call with a message that says what was wrong (expired, wrong audience, unknown
 * key, missing role...), so the caller can fix it. Services turn it into a gRPC status.
 */
export class AuthError extends Error {
  constructor(
    readonly problem: AuthProblem,
    message: string,
  ) {
    super(message);
    this.name = "AuthError";
  }

  /** The gRPC status to answer with. */
  toStatus(): GrpcStatusError {
    return grpcError(CODES[this.problem], this.message);
  }
}
