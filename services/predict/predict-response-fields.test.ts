import { HoldoutScheme } from "../gen/liver/v1/model.js";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { ModelSource } from "../gen/liver/v1/predict_service.js";
import { FEATURE_COUNT } from "../shared/features/feature-schema.js";
import { BatchResponseWriter } from "./batch-response-writer.js";
import { PredictionTokenSigner } from "./prediction-token-signer.js";
import type { ServingModel } from "./serving-model.js";

// Predict's answers are written by hand-written wire writers (BatchResponseWriter and
// explanation-wire). Their own tests compare bytes for the fields they
// know; this one walks the contract's descriptors (protobufjs reflection over the .proto
// files), so a field added to PredictResponse, PredictBatchResponse, Explanation or
// FeatureContribution that a writer leaves out fails here, naming the field.

const protoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "proto");
const root = new protobuf.Root();
root.resolvePath = (_origin, target) =>
  target.startsWith("google/protobuf/") ? target : path.join(protoRoot, target);
root.loadSync("liver/v1/predict_service.proto", { keepCase: false });
root.resolveAll();

const PREDICT_RESPONSE = root.lookupType("liver.v1.PredictResponse");
const PREDICT_BATCH_RESPONSE = root.lookupType("liver.v1.PredictBatchResponse");

type Message = Record<string, unknown>;

/** A value for `field` that proto3 cannot leave out (not the type's default). */
function setValue(field: protobuf.Field, depth: number): unknown {
  const one = (): unknown => {
    if (field.resolvedType instanceof protobuf.Type) return fullMessage(field.resolvedType, depth + 1);
    if (field.resolvedType instanceof protobuf.Enum) {
      return Object.values(field.resolvedType.values).find((v) => v !== 0);
    }
    switch (field.type) {
      case "string":
        return `${field.name}-value`;
      case "bytes":
        return new Uint8Array([1, 2, 3]);
      case "bool":
        return true;
      default:
        return 0.25 + field.id;
    }
  };
  return field.repeated ? [one(), one()] : one();
}

/** A message of `type` with every field set (in camelCase, as the generated code names them). */
function fullMessage(type: protobuf.Type, depth = 0): Message {
  if (depth > 4) throw new Error(`test set-up: ${type.fullName} nests too deep`);
  return Object.fromEntries(type.fieldsArray.map((field) => [field.name, setValue(field, depth)]));
}

/** Fields of `type` (recursively, as dotted paths) that `message` does not carry. */
function absentFields(type: protobuf.Type, messages: readonly Message[], prefix = ""): string[] {
  return type.fieldsArray.flatMap((field) => {
    const name = `${prefix}${field.name}`;
    const values = messages
      .map((m) => m[field.name])
      .flatMap((v) => (Array.isArray(v) ? (v as unknown[]) : [v]))
      .filter((v) => v !== undefined && v !== null && v !== "" && v !== 0 && v !== false);
    if (values.length === 0) return [name];
    return field.resolvedType instanceof protobuf.Type
      ? absentFields(field.resolvedType, values as Message[], `${name}.`)
      : [];
  });
}

function decode(type: protobuf.Type, bytes: Uint8Array): Message {
  return type.toObject(type.decode(bytes), { defaults: false, enums: Number, longs: Number });
}

describe("the contract's descriptors against the hand-written writers", () => {
  it("the descriptors are the contract's (a walk over nothing would pass anything)", () => {
    expect(PREDICT_RESPONSE.fieldsArray.map((f) => f.name)).toEqual(
      expect.arrayContaining(["probability", "diagnosis", "modelVersion", "feedbackToken", "explanation"]),
    );
    expect(absentFields(PREDICT_RESPONSE, [{ probability: 0.5 }])).toContain("modelVersion");
  });

  it("BatchResponseWriter writes every field of PredictBatchResponse, of each result and of Predict's answer", () => {
    const model: ServingModel = {
      version: "v7",
      sha256: "0".repeat(64),
      threshold: 0.5,
      metrics: {
        rocAuc: 0.75,
        accuracy: 0.7,
        logLoss: 0.5,
        brierScore: 0.2,
        threshold: 0.5,
        confusionMatrix: undefined,
        holdoutRows: 10,
        holdoutScheme: "lab-profile-v1",
        holdoutSchemeKind: HoldoutScheme.HOLDOUT_SCHEME_LAB_PROFILE_V1,
        holdoutFingerprint: "",
        calibration: undefined,
      },
      trainedOnSyntheticData: false,
      source: ModelSource.MODEL_SOURCE_RETRAIN_SERVICE,
      loadedAt: new Date(),
      backend: "cpu",
      inputProfile: undefined,
      // Every feature read at most 3: the larger values below come back with a counted value.
      clip: {
        lower: new Float64Array(FEATURE_COUNT).fill(Number.NEGATIVE_INFINITY),
        upper: new Float64Array(FEATURE_COUNT).fill(3),
      },
      score: (vectors, offset) => vectors[offset] ?? Number.NaN,
      explain: (vectors, offset, contributions) => {
        for (let i = 0; i < FEATURE_COUNT; i++) contributions[i] = (vectors[offset + i] ?? 0) - i - 0.5;
        return 0.3;
      },
    };
    const probabilities = [0.2, 0.8];
    const vectors = new Float64Array(probabilities.length * FEATURE_COUNT);
    probabilities.forEach((p, row) => {
      vectors[row * FEATURE_COUNT] = p;
      for (let i = 1; i < FEATURE_COUNT; i++) vectors[row * FEATURE_COUNT + i] = 1 + i;
    });
    const writer = new BatchResponseWriter(new PredictionTokenSigner(randomBytes(32)));
    const contents = { explanations: true, feedbackTokens: true };
    const outcome = writer.write(model, vectors, probabilities.length, Date.now(), contents);
    if (!outcome.ok) throw new Error(`row ${outcome.badRow} was refused`);
    const decoded = decode(PREDICT_BATCH_RESPONSE, outcome.response.bytes);
    expect(absentFields(PREDICT_BATCH_RESPONSE, [decoded])).toEqual([]);
    // Predict's answer, a batch of one: every field of PredictResponse in a single answer.
    const one = writer.writeOne(model, vectors.subarray(FEATURE_COUNT), Date.now(), contents, "", "default");
    if (!one.ok) throw new Error("Predict's answer was refused");
    expect(absentFields(PREDICT_RESPONSE, [decode(PREDICT_RESPONSE, one.response.bytes)])).toEqual([]);
  });
});
