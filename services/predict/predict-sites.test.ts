import { Buffer } from "node:buffer";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ArtifactFile } from "../gen/liver/v1/retrain_service.js";
import { generateSyntheticDataset } from "../shared/data/synthetic-dataset.js";
import { FEATURE_COUNT } from "../shared/features/feature-schema.js";
import { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import { sha256Hex } from "../shared/model/model-artifact.js";
import { servedProbability, siteCalibrationsOf, type ServedModel } from "../shared/model/served-answer.js";
import { IDENTITY_CALIBRATION } from "../shared/model/output-calibration.js";
import { sigmoid } from "../shared/model/scorer.js";
import { runTrainingPipeline } from "../shared/model/training-pipeline.js";
import { parseTrustedAddresses } from "../shared/net/trusted-gateways.js";
import { Prng } from "../shared/data/prng.js";
import { FakeRetrainServer } from "./testing/fake-retrain-server.js";
import { callFailure } from "./testing/predict-clients.js";
import { vectorToPatient } from "./testing/patients.js";
import { ReplicaFixture, type TestReplica } from "./testing/replica-fixture.js";

const fixture = new ReplicaFixture();
let served: ServedModel;
let files: ArtifactFile[];
let sha256: string;

beforeAll(async () => {
  // A version whose clinic-a feedback says a much lower prevalence than the model's (from ten
  // sources), so clinic-a gets a calibration of its own; the default site has none.
  const original = generateSyntheticDataset(2_000, 41);
  const first = await runTrainingPipeline({ original });
  const base: ServedModel = {
    pipeline: first.pipeline,
    weights: first.weights,
    calibrations: siteCalibrationsOf(IDENTITY_CALIBRATION, undefined),
    threshold: first.metrics.holdout.threshold,
  };
  const clinic = generateSyntheticDataset(600, 42);
  const prng = new Prng(3);
  for (let row = 0; row < clinic.rows; row++) {
    const p = servedProbability(base, "clinic-a", clinic.features, row * FEATURE_COUNT);
    clinic.labels[row] = prng.nextFloat() < sigmoid(Math.log(p / (1 - p)) - 2) ? 1 : 0;
  }
  const training = await runTrainingPipeline({
    original,
    siteFeedback: [{ site: "clinic-a", rows: clinic, sources: 10 }],
    artifact: { version: "v1" },
  });
  const built = training.artifact;
  if (built === undefined) throw new Error("no artifact");
  files = built.files.map((file) => {
    const content = Buffer.from(file.content);
    return { name: file.name, content, sha256: sha256Hex(content) };
  });
  sha256 = built.manifestSha256;
  expect(training.siteCalibrations?.sites[0]?.method).not.toBe("keep");
  served = {
    pipeline: training.pipeline,
    weights: training.weights,
    calibrations: siteCalibrationsOf(IDENTITY_CALIBRATION, training.siteCalibrations),
    threshold: training.metrics.holdout.threshold,
  };
}, 120_000);

afterAll(() => fixture.close());

async function replica(trusted: string): Promise<TestReplica> {
  const fake = new FakeRetrainServer();
  await fake.start(0);
  fixture.onClose(() => fake.stop());
  fake.promote({ version: "v1", sha256, files, trainedOnSyntheticData: true });
  const started = await fixture.replica(`127.0.0.1:${fake.port}`, {
    trustedGateways: parseTrustedAddresses(trusted),
  });
  await started.server.holder.waitFor((m) => m.version === "v1", 20_000);
  return started;
}

describe("Predict answers each site with its calibration", () => {
  it("serves exactly servedProbability per site and signs the site into the feedback token", async () => {
    const { client } = await replica("127.0.0.1/8");
    const verifier = new FeedbackTokenSigner(fixture.signingKey);
    const patients = generateSyntheticDataset(20, 43);
    for (let row = 0; row < patients.rows; row++) {
      const patient = vectorToPatient(patients.features, row);
      for (const site of [undefined, "clinic-a", "clinic-b"]) {
        client.site = site;
        const answer = await client.predict(patient);
        const expected = servedProbability(served, site ?? "default", patients.features, row * FEATURE_COUNT);
        expect(answer.probability).toBeCloseTo(expected, 12);
        expect(verifier.verify(answer.feedbackToken).site).toBe(site === undefined ? undefined : site);
      }
      client.site = undefined;
    }
    // clinic-a's answers are lower than the other sites' for the same patient.
    client.site = "clinic-a";
    const lower = await client.predict(vectorToPatient(patients.features, 0));
    client.site = "clinic-b";
    const base = await client.predict(vectorToPatient(patients.features, 0));
    expect(lower.probability).toBeLessThan(base.probability);
    const batch = await client.predictBatch([vectorToPatient(patients.features, 0)]);
    expect(batch.results[0]?.probability).toBeCloseTo(base.probability, 12);
    expect(verifier.verify(batch.results[0]?.feedbackToken ?? "").site).toBe("clinic-b");
    client.site = undefined;
  }, 60_000);

  it("refuses x-liver-site from a peer that is no trusted gateway, and bad site names", async () => {
    const { client } = await replica("10.0.0.0/8");
    const patient = vectorToPatient(generateSyntheticDataset(1, 44).features, 0);
    client.site = "clinic-a";
    const refused = await callFailure(client.predict(patient));
    expect(refused.code).toBe(status.PERMISSION_DENIED);
    expect(refused.details).toMatch(/x-liver-site is believed only from a trusted gateway/);
    expect((await callFailure(client.predictBatch([patient]))).code).toBe(status.PERMISSION_DENIED);
    client.site = undefined;
    expect((await client.predict(patient)).modelVersion).toBe("v1");

    const trusted = await replica("127.0.0.1/8");
    trusted.client.site = "Clinic A";
    const invalid = await callFailure(trusted.client.predict(patient));
    expect(invalid.code).toBe(status.INVALID_ARGUMENT);
    expect(invalid.details).toMatch(/^x-liver-site /);
    trusted.client.site = undefined;
  }, 60_000);
});
