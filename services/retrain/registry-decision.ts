import { status } from "@grpc/grpc-js";
import { rpcFailure } from "../shared/grpc/rpc-failure.js";
import { RegistryError } from "./store/model-registry.js";

/**
 * Runs a registry change an admin RPC asked for (rollback, approve, reject), turning a
 * RegistryError into what the caller should read: NOT_FOUND for a version that does not
 * exist, FAILED_PRECONDITION for one a concurrent decision has already moved, each with the
 * registry's message. The one place this mapping lives, so every admin RPC answers alike.
 */
export function registryDecision<T>(action: () => T): T {
  try {
    return action();
  } catch (error) {
    if (error instanceof RegistryError) {
      throw rpcFailure(
        error.problem === "not-found" ? status.NOT_FOUND : status.FAILED_PRECONDITION,
        error.message,
      );
    }
    throw error;
  }
}
