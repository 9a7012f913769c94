import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";

/** The contract's proto files, relative to the proto/ folder. */
export const CONTRACT_FILES = [
  "liver/v1/patient.proto",
  "liver/v1/model.proto",
  "liver/v1/predict_service.proto",
  "liver/v1/retrain_service.proto",
] as const;

/**
 * Finds proto/ by walking up from this file, so the same code works under tsx (services/…)
 * and compiled (dist/services/…) and in the container image (which copies proto/).
 */
export function findProtoRoot(start = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = start;
  for (;;) {
    const candidate = path.join(dir, "proto");
    if (existsSync(path.join(candidate, "liver", "v1", "patient.proto"))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new Error(
        `proto/liver/v1 not found above ${start}; the proto/ folder must ship with the service`,
      );
    dir = parent;
  }
}

/**
 * A runtime descriptor of the contract plus grpc.health.v1, for server reflection: with it,
 * `grpcurl -plaintext localhost:8000 list` works with no proto files at hand.
 */
export function loadContractDescriptor(): protoLoader.PackageDefinition {
  const root = findProtoRoot();
  return protoLoader.loadSync([...CONTRACT_FILES, path.basename(healthProtoPath)], {
    includeDirs: [root, path.dirname(healthProtoPath)],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
}
