import { createRequire } from "node:module";
import path from "node:path";
import {
  loadPackageDefinition,
  status,
  type ClientDuplexStream,
  type GrpcObject,
  type ServiceClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PredictServiceClient,
  PredictServiceService,
  type PredictServiceServer,
} from "../../gen/liver/v1/predict_service.js";
import { Gender } from "../../gen/liver/v1/patient.js";
import { testChannelCredentials, testHealthCheck, testServerCredentials } from "../testing/test-tls.js";
import { GrpcServerHost } from "./grpc-server-host.js";

const reflectionProtoRoot = path.join(
  path.dirname(createRequire(import.meta.url).resolve("@grpc/reflection/package.json")),
  "build",
  "proto",
);

interface ReflectionReply {
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

/** One request/answer over ServerReflectionInfo, as grpcurl does it. */
async function reflect(port: number, version: "v1" | "v1alpha", request: object): Promise<ReflectionReply> {
  const definition = protoLoader.loadSync(`grpc/reflection/${version}/reflection.proto`, {
    includeDirs: [reflectionProtoRoot],
    keepCase: true,
  });
  const grpcPackage = loadPackageDefinition(definition).grpc as GrpcObject;
  const reflection = (grpcPackage.reflection as GrpcObject)[version] as GrpcObject;
  const Client = reflection.ServerReflection as ServiceClientConstructor;
  const client = new Client(`127.0.0.1:${port}`, testChannelCredentials());
  try {
    const call = (
      client as unknown as { ServerReflectionInfo(): ClientDuplexStream<object, ReflectionReply> }
    ).ServerReflectionInfo();
    const reply = new Promise<ReflectionReply>((resolve, reject) => {
      call.once("data", resolve);
      call.once("error", reject);
    });
    call.write(request);
    call.end();
    return await reply;
  } finally {
    client.close();
  }
}

const unavailable = (_call: unknown, callback: (error: Partial<ServiceError>) => void): void =>
  callback({ code: status.UNAVAILABLE, details: "test server" });
const handlers: PredictServiceServer = {
  predict: unavailable,
  predictBatch: unavailable,
  getModelInfo: unavailable,
};

describe("GrpcServerHost", () => {
  let host: GrpcServerHost;
  let port: number;

  beforeAll(async () => {
    host = new GrpcServerHost({
      serviceNames: ["liver.v1.PredictService"],
      logger: pino({ level: "silent" }),
      credentials: testServerCredentials(),
    });
    host.addService(PredictServiceService, handlers);
    port = await host.listen("127.0.0.1", 0);
  });
  afterAll(() => host.shutdown(1_000));

  it.each(["v1", "v1alpha"] as const)(
    "lists the services over reflection %s, as grpcurl list does",
    async (version) => {
      const reply = await reflect(port, version, { list_services: "" });
      const names = reply.list_services_response?.service.map((s) => s.name) ?? [];
      expect([...names].sort()).toEqual([
        "grpc.health.v1.Health",
        "inference.GRPCInferenceService",
        "liver.v1.PredictService",
        "liver.v1.RetrainService",
      ]);
    },
  );

  it("describes the contract's messages over reflection, so grpcurl needs no proto files", async () => {
    const reply = await reflect(port, "v1", { file_containing_symbol: "liver.v1.PredictService" });
    const files = reply.file_descriptor_response?.file_descriptor_proto ?? [];
    const text = files.map((bytes) => Buffer.from(bytes).toString("latin1")).join("\n");
    // @grpc/reflection serves one synthesized file per package; what matters is the content.
    for (const name of ["PredictService", "PatientFeatures", "albumin_globulin_ratio", "GENDER_FEMALE"]) {
      expect(text).toContain(name);
    }
  });

  it("reports NOT_SERVING until told otherwise, for the whole server and the named service", async () => {
    expect(await testHealthCheck(`127.0.0.1:${port}`, "")).toBe("NOT_SERVING");
    host.setServing(true);
    expect(await testHealthCheck(`127.0.0.1:${port}`, "liver.v1.PredictService")).toBe("SERVING");
    expect(await testHealthCheck(`127.0.0.1:${port}`, "")).toBe("SERVING");
    host.setServing(false);
    expect(await testHealthCheck(`127.0.0.1:${port}`, "liver.v1.PredictService")).toBe("NOT_SERVING");
  });

  it("refuses messages over 4 MiB (here about 5 MB) with RESOURCE_EXHAUSTED before any handler runs", async () => {
    const client = new PredictServiceClient(`127.0.0.1:${port}`, testChannelCredentials());
    try {
      const patients = Array.from({ length: 250_000 }, () => ({
        age: 40,
        totalBilirubin: 1,
        albumin: 3,
        gender: Gender.GENDER_MALE,
      }));
      const error = await new Promise<ServiceError | null>((resolve) =>
        client.predictBatch({ patients, includeExplanations: false, omitFeedbackTokens: false }, (e) =>
          resolve(e),
        ),
      );
      expect(error?.code).toBe(status.RESOURCE_EXHAUSTED);
    } finally {
      client.close();
    }
  });
});
