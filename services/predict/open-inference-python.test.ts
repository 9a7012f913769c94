/**
 * The Open Inference Protocol from another language, as a platform team would call it: Python
 * grpcio with stubs generated from the canonical proto at run time (scripts/oip-python-client.py)
 * against a real PredictService replica. Every RPC answers, typed and raw contents both work,
 * probabilities equal liver.v1 Predict's to 1e-12, and a missing input is INVALID_ARGUMENT
 * naming it. Needs a python3 with grpcio and grpcio-tools (Debian: python3-grpcio
 * python3-grpc-tools, which .ci/run installs); without one it says it skipped, except under CI,
 * where it fails.
 */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Diagnosis, Gender, type PatientFeatures } from "../gen/liver/v1/patient.js";
import { FEATURES, toFeatureVector } from "../shared/features/feature-schema.js";
import { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import { FakeRetrainServer } from "./testing/fake-retrain-server.js";
import type { PredictTestClient } from "./testing/predict-clients.js";
import { validPatient } from "./testing/patients.js";
import { ReplicaFixture } from "./testing/replica-fixture.js";
import { trainTestArtifact } from "./testing/test-artifacts.js";

const REPO = path.join(import.meta.dirname, "../..");
const CLIENT = path.join(REPO, "scripts/oip-python-client.py");

/** The first python3 that has grpcio and grpcio-tools (Debian's is under /usr/bin). */
function findPython(): string | undefined {
  for (const python of ["python3", "/usr/bin/python3"]) {
    const probe = spawnSync(python, ["-c", "import grpc, grpc_tools"], { encoding: "utf8" });
    if (probe.status === 0) return python;
  }
  return undefined;
}

const python = findPython();
const MISSING =
  "no python3 with grpcio and grpcio-tools (Debian: apt-get install python3-grpcio python3-grpc-tools)";
if (python === undefined && process.env["CI"] !== "true") {
  console.warn(`${MISSING}: the Open Inference Protocol test from Python is SKIPPED`);
}

/** Runs the Python client with `input` on stdin; its exit status and output. */
function runClient(
  executable: string,
  target: string,
  input: string,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(executable, [CLIENT, target], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(input);
  });
}

const PATIENTS: PatientFeatures[] = [
  validPatient(),
  validPatient({ gender: Gender.GENDER_FEMALE, age: 62, totalBilirubin: 7.3, alkalinePhosphatase: 490 }),
  validPatient({ age: 0, totalBilirubin: 0, directBilirubin: 0, albuminGlobulinRatio: 0 }),
  validPatient({ gender: Gender.GENDER_FEMALE, age: 120, aspartateAminotransferase: 10_000, albumin: 10 }),
];

/** A patient as the Python client reads it: inputs named as ModelMetadata lists them. */
function asInputs(patient: PatientFeatures): Record<string, number | string> {
  const inputs: Record<string, number | string> = {};
  for (const spec of FEATURES) {
    inputs[spec.name] =
      spec.kind === "gender"
        ? patient.gender === Gender.GENDER_FEMALE
          ? "female"
          : "male"
        : (patient[spec.key] ?? Number.NaN);
  }
  return inputs;
}

interface Output {
  datatype: string;
  shape: number[];
  values: (number | string)[];
}
interface InferAnswer {
  model_name: string;
  model_version: string;
  probability: Output;
  diagnosis: Output;
  feedback_token: Output;
}
interface PythonAnswers {
  server_live: boolean;
  server_ready: boolean;
  model_ready: boolean;
  server_metadata: { name: string; version: string };
  model_metadata: {
    name: string;
    versions: string[];
    inputs: [string, string, number[]][];
    outputs: string[];
  };
  typed: InferAnswer;
  raw: InferAnswer;
  missing_input: { code: string; details: string };
}

describe.skipIf(python === undefined && process.env["CI"] !== "true")(
  "the Open Inference Protocol from Python grpcio, stubs generated from the canonical proto",
  () => {
    const fixture = new ReplicaFixture();
    let predict: PredictTestClient;
    let address: string;

    beforeAll(async () => {
      const fake = new FakeRetrainServer();
      fake.addVersion(await trainTestArtifact("v1", 21));
      fake.promote(await trainTestArtifact("v2", 22));
      await fake.start(0);
      fixture.onClose(() => fake.stop());
      const replica = await fixture.replica(`127.0.0.1:${fake.port}`);
      predict = replica.client;
      await replica.server.holder.waitFor((m) => m.version === "v2", 20_000);
      address = `127.0.0.1:${replica.server.port}`;
    });

    afterAll(() => fixture.close());

    it("answers every RPC, typed and raw, with liver.v1 Predict's probabilities", async () => {
      if (python === undefined) throw new Error(`${MISSING}; .ci/run installs them`);
      // Asynchronously: the replica answers from this process's event loop.
      const run = await runClient(python, address, JSON.stringify({ patients: PATIENTS.map(asInputs) }));
      expect(run.status, run.stderr).toBe(0);
      const answers = JSON.parse(run.stdout) as PythonAnswers;
      const packageJson = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as {
        name: string;
        version: string;
      };
      expect([answers.server_live, answers.server_ready, answers.model_ready]).toEqual([true, true, true]);
      expect(answers.server_metadata).toEqual({ name: packageJson.name, version: packageJson.version });
      expect(answers.model_metadata.name).toBe("liver-disease");
      expect(answers.model_metadata.versions).toEqual(["v2", "v1"]);
      expect(answers.model_metadata.inputs).toEqual(
        FEATURES.map((spec) => [spec.name, spec.kind === "gender" ? "BYTES" : "FP64", [-1]]),
      );
      expect(answers.model_metadata.outputs.slice(0, 3)).toEqual([
        "probability",
        "diagnosis",
        "feedback_token",
      ]);
      const expected = await Promise.all(PATIENTS.map((patient) => predict.predict(patient)));
      const verifier = new FeedbackTokenSigner(fixture.signingKey);
      for (const infer of [answers.typed, answers.raw]) {
        expect([infer.feedback_token.datatype, infer.feedback_token.shape]).toEqual([
          "BYTES",
          [PATIENTS.length],
        ]);
        expect([infer.model_name, infer.model_version]).toEqual(["liver-disease", "v2"]);
        expect([infer.probability.datatype, infer.probability.shape]).toEqual(["FP64", [PATIENTS.length]]);
        expect([infer.diagnosis.datatype, infer.diagnosis.shape]).toEqual(["BYTES", [PATIENTS.length]]);
        for (const [i, answer] of expected.entries()) {
          const probability = Number(infer.probability.values[i]);
          expect(Math.abs(probability - answer.probability)).toBeLessThanOrEqual(1e-12);
          expect(infer.diagnosis.values[i]).toBe(
            answer.diagnosis === Diagnosis.DIAGNOSIS_LIVER_DISEASE ? "liver_disease" : "no_liver_disease",
          );
          // The token SubmitFeedback takes, signed for this patient and this answer.
          const record = verifier.verify(String(infer.feedback_token.values[i]));
          expect([record.modelVersion, record.probability]).toEqual(["v2", probability]);
          expect(Array.from(record.features)).toEqual(
            Array.from(toFeatureVector(PATIENTS[i] ?? validPatient())),
          );
        }
      }
      expect(answers.missing_input.code).toBe("INVALID_ARGUMENT");
      expect(answers.missing_input.details).toMatch(/\binput albumin is missing\b/);
    }, 180_000);
  },
);
