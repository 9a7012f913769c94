import * as protoLoader from "@grpc/proto-loader";
import { describe, expect, it } from "vitest";
import { OPEN_INFERENCE_ACCESS } from "../../predict/open-inference-service.js";
import { PREDICT_ACCESS } from "../../predict/predict-service.js";
import { RETRAIN_ACCESS } from "../../retrain/retrain-service.js";
import type { Access } from "../auth/call-gate.js";
import {
  CONTRACT_FILES,
  findProtoRoot,
  OPEN_INFERENCE_PROTO,
  openInferenceProtoDir,
} from "./contract-descriptor.js";

/** Every service both servers serve, read from the .proto files (not the generated code). */
const TABLES: Readonly<Record<string, Readonly<Record<string, Access>>>> = {
  "liver.v1.PredictService": PREDICT_ACCESS,
  "liver.v1.RetrainService": RETRAIN_ACCESS,
  "inference.GRPCInferenceService": OPEN_INFERENCE_ACCESS,
};

function servicesInProtos(): Map<string, string[]> {
  const root = findProtoRoot();
  const definition = protoLoader.loadSync([...CONTRACT_FILES, OPEN_INFERENCE_PROTO], {
    includeDirs: [root, openInferenceProtoDir(root)],
  });
  const services = new Map<string, string[]>();
  for (const [name, value] of Object.entries(definition)) {
    // A service is an object of methods, each with a path; messages and enums have none.
    const methods = Object.values(value).filter(
      (m): m is { path: string; originalName: string } =>
        typeof m === "object" && m !== null && "path" in m && "originalName" in m,
    );
    if (methods.length > 0)
      services.set(
        name,
        methods.map((m) => m.originalName),
      );
  }
  return services;
}

describe("access tables", () => {
  it("cover every service of the contract and the Open Inference Protocol", () => {
    expect([...servicesInProtos().keys()].sort()).toEqual(Object.keys(TABLES).sort());
  });

  it("give every RPC of every service exactly one role, and name no RPC the protos lack", () => {
    for (const [service, methods] of servicesInProtos()) {
      const table = TABLES[service] ?? {};
      expect(Object.keys(table).sort(), `${service}: add the new RPC to its access table`).toEqual(
        [...methods].sort(),
      );
    }
  });

  it("keep the roles the services have always had", () => {
    const roles = (table: Readonly<Record<string, Access>>, access: Access): string[] =>
      Object.keys(table).filter((method) => table[method] === access);
    expect(roles(PREDICT_ACCESS, "clinician")).toEqual(["predict", "predictBatch"]);
    expect(roles(OPEN_INFERENCE_ACCESS, "clinician")).toEqual(["modelInfer"]);
    expect(roles(RETRAIN_ACCESS, "clinician")).toEqual(["submitFeedback"]);
    expect(roles(RETRAIN_ACCESS, "open").sort()).toEqual(
      ["getModelArtifact", "getRetrainStatus", "listModelVersions", "watchModelVersions"].sort(),
    );
  });
});
