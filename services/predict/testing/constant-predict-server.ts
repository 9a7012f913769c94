/**
 * The bench's baseline: a bare grpc-js server speaking liver.v1.PredictService with the
 * generated codecs and answering every Predict with one constant response of realistic
 * size (a UUID and a real feedback token). What PredictService adds on top of it
 * (validation, scoring, signing, metrics) is what the same-run ratio measures.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { Server, status } from "@grpc/grpc-js";
import { Diagnosis } from "../../gen/liver/v1/patient.js";
import { type PredictResponse, PredictServiceService } from "../../gen/liver/v1/predict_service.js";
import { FEATURE_COUNT, FEATURES } from "../../shared/features/feature-schema.js";
import { FeedbackTokenSigner } from "../../shared/feedback/feedback-token.js";
import { testServerCredentials } from "../../shared/testing/test-tls.js";

/** A started baseline server. */
export interface ConstantPredictServer {
  readonly port: number;
  close(): Promise<void>;
}

/** The constant answer: the shape and size of a real PredictResponse. */
export function constantResponse(): PredictResponse {
  const predictionId = randomUUID();
  const feedbackToken = new FeedbackTokenSigner(randomBytes(32)).sign({
    predictionId,
    modelVersion: "v1",
    features: new Float64Array(FEATURE_COUNT).fill(1.5),
    probability: 0.731,
    diagnosis: Diagnosis.DIAGNOSIS_LIVER_DISEASE,
    issuedAtMs: Date.now(),
  });
  return {
    probability: 0.731,
    diagnosis: Diagnosis.DIAGNOSIS_LIVER_DISEASE,
    modelVersion: "v1",
    predictionId,
    feedbackToken,
    threshold: 0.5,
    explanation: {
      referenceLogOdds: 0.42,
      contributions: FEATURES.map((spec, i) => ({
        name: spec.name,
        value: 1.5,
        contribution: 0.1 * (i + 1),
      })),
    },
    warnings: [],
  };
}

export async function startConstantPredictServer(
  host = "127.0.0.1",
  port = 0,
): Promise<ConstantPredictServer> {
  const response = constantResponse();
  const server = new Server();
  server.addService(PredictServiceService, {
    predict: (_call: unknown, callback: (error: null, value: PredictResponse) => void) =>
      callback(null, response),
    predictBatch: (_call: unknown, callback: (error: { code: number; details: string }) => void) =>
      callback({ code: status.UNIMPLEMENTED, details: "the baseline answers Predict only" }),
    getModelInfo: (_call: unknown, callback: (error: { code: number; details: string }) => void) =>
      callback({ code: status.UNIMPLEMENTED, details: "the baseline answers Predict only" }),
  });
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, testServerCredentials(), (error, actual) => {
      if (error) reject(error);
      else resolve(actual);
    });
  });
  return {
    port: bound,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
