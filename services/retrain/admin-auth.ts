import { createHash, timingSafeEqual } from "node:crypto";
import { status, type Metadata } from "@grpc/grpc-js";
import { grpcError, type GrpcStatusError } from "../shared/grpc/grpc-errors.js";

/**
 * Checks `authorization: Bearer <ADMIN_TOKEN>` on admin RPCs (TriggerRetrain,
 * RollbackModel). Without a configured token the admin RPCs are off, and the refusal says
 * how to turn them on; a missing header is UNAUTHENTICATED, a wrong token PERMISSION_DENIED.
 */
export class AdminAuth {
  private readonly expected: Buffer | undefined;

  constructor(adminToken: string | undefined) {
    this.expected = adminToken === undefined ? undefined : digest(adminToken);
  }

  /** Undefined when the caller may proceed, else the status to answer with. */
  check(metadata: Metadata, method: string): GrpcStatusError | undefined {
    if (this.expected === undefined) {
      return grpcError(
        status.FAILED_PRECONDITION,
        `${method} is an admin RPC and admin RPCs are disabled: no ADMIN_TOKEN is configured on the RetrainService. ` +
          "Set ADMIN_TOKEN (for example: export ADMIN_TOKEN=$(openssl rand -hex 32)), restart it, and send the metadata 'authorization: Bearer <ADMIN_TOKEN>'",
      );
    }
    const values = metadata.get("authorization");
    if (values.length === 0) {
      return grpcError(
        status.UNAUTHENTICATED,
        `${method} is an admin RPC: send the metadata 'authorization: Bearer <ADMIN_TOKEN>'`,
      );
    }
    if (values.length > 1) {
      return grpcError(
        status.UNAUTHENTICATED,
        "authorization metadata is given more than once; send it once",
      );
    }
    const value = values[0];
    const match = typeof value === "string" ? /^Bearer +(\S+)\s*$/i.exec(value) : null;
    const token = match?.[1];
    if (token === undefined) {
      return grpcError(
        status.UNAUTHENTICATED,
        "authorization metadata is malformed: expected 'Bearer <ADMIN_TOKEN>'",
      );
    }
    if (!timingSafeEqual(digest(token), this.expected)) {
      return grpcError(status.PERMISSION_DENIED, `the bearer token is not this RetrainService's ADMIN_TOKEN`);
    }
    return undefined;
  }
}

/** Fixed-length digests, so the comparison takes the same time whatever the token's length. */
function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}
