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
 * The Open Inference Protocol's canonical proto (vendored unmodified with its licence), in
 * third_party/ beside proto/.
 */
export const OPEN_INFERENCE_PROTO = "open_inference_grpc.proto";

/** The folder holding OPEN_INFERENCE_PROTO, found from proto/ like the contract. */
export function openInferenceProtoDir(protoRoot = findProtoRoot()): string {
  return path.join(path.dirname(protoRoot), "third_party", "open-inference-protocol");
}

/**
 * A runtime descriptor of the contract, the Open Inference Protocol and grpc.health.v1, for
 * server reflection: with it, `grpcurl -plaintext localhost:8000 list` works with no proto
 * files at hand.
 */
export function loadContractDescriptor(): protoLoader.PackageDefinition {
  const root = findProtoRoot();
  return protoLoader.loadSync([...CONTRACT_FILES, OPEN_INFERENCE_PROTO, path.basename(healthProtoPath)], {
    includeDirs: [root, openInferenceProtoDir(root), path.dirname(healthProtoPath)],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
}
