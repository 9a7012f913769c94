import { describe, expect, it } from "vitest";
import { PredictServiceService } from "../services/gen/liver/v1/predict_service.js";
import { RetrainServiceService } from "../services/gen/liver/v1/retrain_service.js";
import { findPublicMethod, NON_PUBLIC_METHOD_PATHS, PUBLIC_METHODS } from "./public-methods.js";

interface GeneratedMethod {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
}

const generated: readonly { target: "predict" | "retrain"; method: GeneratedMethod }[] = [
  ...Object.values(PredictServiceService).map((m) => ({ target: "predict" as const, method: m })),
  ...Object.values(RetrainServiceService).map((m) => ({ target: "retrain" as const, method: m })),
];

describe("PUBLIC_METHODS against the generated service definitions", () => {
  it("names only RPCs that exist, with the right target and streaming shape", () => {
    for (const pub of PUBLIC_METHODS) {
      const gen = generated.find((g) => g.method.path === pub.path);
      expect(gen, `${pub.path} is not an RPC of the generated services`).toBeDefined();
      expect(gen?.target).toBe(pub.target);
      expect(gen?.method.requestStream).toBe(false);
      expect(gen?.method.responseStream).toBe(pub.serverStreaming);
      expect(pub.path).toBe(`/${pub.service}/${pub.method}`);
    }
  });

  it("classifies every generated RPC as public or non-public, never both", () => {
    const publicPaths = new Set(PUBLIC_METHODS.map((m) => m.path));
    const nonPublic = new Set(Object.keys(NON_PUBLIC_METHOD_PATHS));
    for (const { method } of generated) {
      const isPublic = publicPaths.has(method.path);
      const isNonPublic = nonPublic.has(method.path);
      expect(isPublic !== isNonPublic, `${method.path} must be in exactly one list`).toBe(true);
    }
    expect(publicPaths.size + nonPublic.size).toBe(generated.length);
  });

  it("is exactly the public set of the design", () => {
    expect(PUBLIC_METHODS.map((m) => m.path).sort()).toEqual(
      [
        "/liver.v1.PredictService/GetModelInfo",
        "/liver.v1.PredictService/Predict",
        "/liver.v1.PredictService/PredictBatch",
        "/liver.v1.RetrainService/GetRetrainStatus",
        "/liver.v1.RetrainService/ListModelVersions",
        "/liver.v1.RetrainService/SubmitFeedback",
        "/liver.v1.RetrainService/WatchModelVersions",
        "/liver.v1.RetrainService/ApproveModelVersion",
        "/liver.v1.RetrainService/RejectModelVersion",
      ].sort(),
    );
    // Only the approval decisions need a signed-in admin; every other public method is for clinicians.
    expect(PUBLIC_METHODS.filter((m) => m.signedInAdminOnly).map((m) => m.method)).toEqual([
      "ApproveModelVersion",
      "RejectModelVersion",
    ]);
    expect(Object.keys(NON_PUBLIC_METHOD_PATHS)).toContain("/liver.v1.RetrainService/TriggerRetrain");
    expect(Object.keys(NON_PUBLIC_METHOD_PATHS)).toContain("/liver.v1.RetrainService/RollbackModel");
    for (const review of ["ListFeedback", "ExcludeFeedback", "ReleaseFeedback", "ListFeedbackAudit"]) {
      expect(Object.keys(NON_PUBLIC_METHOD_PATHS)).toContain(`/liver.v1.RetrainService/${review}`);
    }
  });

  it("gives unary methods a positive timeout and streams none", () => {
    for (const m of PUBLIC_METHODS) {
      if (m.serverStreaming) expect(m.timeoutSeconds).toBe(0);
      else expect(m.timeoutSeconds).toBeGreaterThan(0);
    }
  });

  it("looks up public paths and refuses the rest", () => {
    expect(findPublicMethod("/liver.v1.PredictService/Predict")?.target).toBe("predict");
    expect(findPublicMethod("/liver.v1.RetrainService/WatchModelVersions")?.serverStreaming).toBe(true);
    expect(findPublicMethod("/liver.v1.RetrainService/TriggerRetrain")).toBeUndefined();
    expect(findPublicMethod("/liver.v1.PredictService/predict")).toBeUndefined();
  });
});
