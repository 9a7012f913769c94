import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Diagnosis, Gender, type PatientFeatures } from "../gen/liver/v1/patient.js";
import { ModelSource } from "../gen/liver/v1/predict_service.js";
import {
  FEATURES,
  FEATURE_COUNT,
  describeRange,
  writeFeatureVector,
} from "../shared/features/feature-schema.js";
import { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import { createScorer } from "../shared/model/scorer.js";
import { FakeRetrainServer } from "./testing/fake-retrain-server.js";
import { type PredictTestClient, callFailure, unknownGender } from "./testing/predict-clients.js";
import { validPatient } from "./testing/patients.js";
import { ReplicaFixture, type TestReplica } from "./testing/replica-fixture.js";
import { trainTestArtifact, type TestArtifact } from "./testing/test-artifacts.js";

const fixture = new ReplicaFixture();
let v1: TestArtifact;
let replica: TestReplica;
let client: PredictTestClient;

beforeAll(async () => {
  v1 = await trainTestArtifact("v1", 21);
  const fake = new FakeRetrainServer();
  fake.promote(v1);
  await fake.start(0);
  fixture.onClose(() => fake.stop());
  replica = await fixture.replica(`127.0.0.1:${fake.port}`);
  client = replica.client;
  await replica.server.holder.waitFor((m) => m.version === "v1", 60_000);
});

afterAll(() => fixture.close());

const failure = callFailure;

/** The probability v1 gives a patient, computed outside the server. */
function expectedProbability(patient: PatientFeatures): number {
  const vector = new Float64Array(FEATURE_COUNT);
  writeFeatureVector(patient, vector);
  return createScorer(v1.training.pipeline, v1.training.weights).score(vector, 0);
}

describe("Predict", () => {
  it("answers with probability, diagnosis, version, id and a token recording exactly that answer", async () => {
    const patient = validPatient();
    const answer = await client.predict(patient);
    expect(answer.modelVersion).toBe("v1");
    expect(answer.threshold).toBe(0.5);
    expect(Math.abs(answer.probability - expectedProbability(patient))).toBeLessThanOrEqual(1e-12);
    expect(answer.diagnosis).toBe(
      answer.probability >= 0.5 ? Diagnosis.DIAGNOSIS_LIVER_DISEASE : Diagnosis.DIAGNOSIS_NO_LIVER_DISEASE,
    );
    expect(answer.predictionId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    const record = new FeedbackTokenSigner(fixture.signingKey).verify(answer.feedbackToken);
    const vector = new Float64Array(FEATURE_COUNT);
    writeFeatureVector(patient, vector);
    expect(record).toEqual({
      predictionId: answer.predictionId,
      modelVersion: "v1",
      features: vector,
      probability: answer.probability,
      diagnosis: answer.diagnosis,
      issuedAtMs: record.issuedAtMs,
      principal: "",
    });
    expect(Math.abs(record.issuedAtMs - Date.now())).toBeLessThan(60_000);
  });

  it("gives each prediction its own id and token", async () => {
    const [a, b] = await Promise.all([client.predict(validPatient()), client.predict(validPatient())]);
    expect(a.predictionId).not.toBe(b.predictionId);
    expect(a.feedbackToken).not.toBe(b.feedbackToken);
  });

  it("accepts every bound of every range (inclusive) and both genders", async () => {
    for (const spec of FEATURES) {
      if (spec.kind === "gender") {
        await expect(client.predict(validPatient({ gender: Gender.GENDER_FEMALE }))).resolves.toBeDefined();
        continue;
      }
      for (const value of [spec.min, spec.max]) {
        const answer = await client.predict(validPatient({ [spec.key]: value }));
        expect(answer.probability).toBeGreaterThanOrEqual(0);
        expect(answer.probability).toBeLessThanOrEqual(1);
      }
    }
  });

  it("refuses a request without a patient", async () => {
    expect(await failure(client.predict(undefined))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: "patient is required",
    });
  });

  it("names a missing field with its label and range", async () => {
    expect(await failure(client.predict(validPatient({ totalBilirubin: undefined })))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: "total_bilirubin is required (Total bilirubin, 0 to 100 mg/dL)",
    });
  });

  it("names NaN, infinities and out-of-range values with the valid range", async () => {
    const cases: [Partial<PatientFeatures>, string][] = [
      [{ age: Number.NaN }, "age is NaN; expected a number from 0 to 120 years"],
      [{ albumin: Number.POSITIVE_INFINITY }, "albumin is Infinity; expected a number from 0 to 10 g/dL"],
      [{ albumin: Number.NEGATIVE_INFINITY }, "albumin is -Infinity; expected a number from 0 to 10 g/dL"],
      [{ age: -1 }, "age is -1; valid range is 0 to 120 years"],
      [{ albuminGlobulinRatio: 50 }, "albumin_globulin_ratio is 50; valid range is 0 to 10"],
      [
        { alanineAminotransferase: 10_000.5 },
        "alanine_aminotransferase is 10000.5; valid range is 0 to 10000 IU/L",
      ],
    ];
    for (const [override, details] of cases) {
      expect(await failure(client.predict(validPatient(override)))).toEqual({
        code: status.INVALID_ARGUMENT,
        details,
      });
    }
  });

  it("checks every numeric field for presence, NaN, infinity and both bounds", async () => {
    for (const spec of FEATURES) {
      if (spec.kind === "gender") continue;
      const key = spec.key;
      for (const value of [
        undefined,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        spec.min - 0.001,
        spec.max + 0.001,
      ]) {
        const { code, details } = await failure(client.predict(validPatient({ [key]: value })));
        expect(code).toBe(status.INVALID_ARGUMENT);
        expect(details.startsWith(`${spec.name} `)).toBe(true);
        expect(details).toContain(describeRange(spec));
      }
    }
  });

  it("refuses an unspecified or unknown gender", async () => {
    expect(await failure(client.predict(validPatient({ gender: Gender.GENDER_UNSPECIFIED })))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: "gender is required; expected GENDER_MALE or GENDER_FEMALE",
    });
    expect(await failure(client.predict(validPatient({ gender: unknownGender(7) })))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: "gender has unknown enum value 7; expected GENDER_MALE (1) or GENDER_FEMALE (2)",
    });
  });

  it("lists every bad field of a patient at once", async () => {
    const { code, details } = await failure(
      client.predict(validPatient({ age: undefined, gender: Gender.GENDER_UNSPECIFIED, albumin: 11 })),
    );
    expect(code).toBe(status.INVALID_ARGUMENT);
    expect(details).toBe(
      "age is required (Age, 0 to 120 years); gender is required; expected GENDER_MALE or GENDER_FEMALE; " +
        "albumin is 11; valid range is 0 to 10 g/dL",
    );
  });
});

describe("PredictBatch", () => {
  it("scores every patient with one version, in request order", async () => {
    const patients = [
      validPatient({ age: 20 }),
      validPatient({ age: 60, gender: Gender.GENDER_FEMALE }),
      validPatient(),
    ];
    const answer = await client.predictBatch(patients);
    expect(answer.modelVersion).toBe("v1");
    expect(answer.results).toHaveLength(3);
    const signer = new FeedbackTokenSigner(fixture.signingKey);
    answer.results.forEach((result, i) => {
      const patient = patients[i] ?? validPatient();
      expect(result.modelVersion).toBe("v1");
      expect(Math.abs(result.probability - expectedProbability(patient))).toBeLessThanOrEqual(1e-12);
      const record = signer.verify(result.feedbackToken);
      expect(record.predictionId).toBe(result.predictionId);
      expect(record.features[0]).toBe(patient.age);
    });
    expect(new Set(answer.results.map((r) => r.predictionId)).size).toBe(3);
  });

  it("accepts 10,000 patients and refuses 10,001", async () => {
    const full = await client.predictBatch(Array.from({ length: 10_000 }, () => validPatient()));
    expect(full.results).toHaveLength(10_000);
    expect(await failure(client.predictBatch(Array.from({ length: 10_001 }, () => validPatient())))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: "patients has 10001 entries; at most 10,000 are accepted per call, split the batch",
    });
  });

  it("refuses an empty batch", async () => {
    expect(await failure(client.predictBatch([]))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: "patients is empty; send 1 to 10,000 patients",
    });
  });

  it("refuses the whole batch, naming each bad entry as patients[i].field", async () => {
    const patients = [
      validPatient(),
      validPatient({ age: Number.NaN }),
      validPatient(),
      validPatient({ gender: unknownGender(9), totalProteins: undefined }),
    ];
    expect(await failure(client.predictBatch(patients))).toEqual({
      code: status.INVALID_ARGUMENT,
      details:
        "patients[1].age is NaN; expected a number from 0 to 120 years; " +
        "patients[3].gender has unknown enum value 9; expected GENDER_MALE (1) or GENDER_FEMALE (2); " +
        "patients[3].total_proteins is required (Total proteins, 0 to 15 g/dL)",
    });
  });

  it("reports the first 20 problems of a large bad batch and how many more there are", async () => {
    const patients = Array.from({ length: 100 }, () => validPatient({ age: -5 }));
    const { code, details } = await failure(client.predictBatch(patients));
    expect(code).toBe(status.INVALID_ARGUMENT);
    expect(details.startsWith("patients[0].age is -5; valid range is 0 to 120 years; patients[1].age")).toBe(
      true,
    );
    expect(details.endsWith("; and 80 more")).toBe(true);
  });
});

describe("GetModelInfo", () => {
  it("describes the serving model and the feature schema a form is built from", async () => {
    const info = await client.modelInfo();
    expect(info.modelVersion).toBe("v1");
    expect(info.source).toBe(ModelSource.MODEL_SOURCE_RETRAIN_SERVICE);
    expect(info.trainedOnSyntheticData).toBe(true);
    expect(info.subscribed).toBe(true);
    expect(["tensorflow", "wasm", "cpu"]).toContain(info.backend);
    expect(info.lastFailedVersion).toBe("");
    expect(info.metrics?.rocAuc).toBe(v1.training.metrics.holdout.rocAuc);
    expect(info.metrics?.threshold).toBe(0.5);
    expect(info.metrics?.holdoutRows).toBe(v1.training.holdout.rows);
    expect(info.loadedAt?.getTime()).toBeLessThanOrEqual(Date.now());
    expect(info.features.map((f) => f.name)).toEqual(FEATURES.map((f) => f.name));
    expect(info.features[0]).toEqual({
      name: "age",
      label: "Age",
      unit: "years",
      min: 0,
      max: 120,
      allowedValues: [],
      position: 0,
    });
    expect(info.features[1]).toEqual({
      name: "gender",
      label: "Gender",
      unit: "",
      min: 0,
      max: 0,
      allowedValues: ["GENDER_MALE", "GENDER_FEMALE"],
      position: 1,
    });
  });
});
