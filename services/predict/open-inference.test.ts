/**
 * Conformance of inference.GRPCInferenceService (the Open Inference Protocol) on a real
 * PredictService replica: every RPC through the client generated from the canonical proto,
 * typed and raw contents, the answers held to liver.v1 Predict's, older versions fetched from
 * the registry, and every bad input refused with INVALID_ARGUMENT naming it.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Diagnosis, Gender, type PatientFeatures } from "../gen/liver/v1/patient.js";
import { ModelSource } from "../gen/liver/v1/predict_service.js";
import { InferTensorContents, type ModelInferRequest } from "../gen/open_inference_grpc.js";
import { FEATURES, toFeatureVector } from "../shared/features/feature-schema.js";
import { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import { ModelLoader } from "./model-loader.js";
import { OPEN_INFERENCE_SERVICE_NAME } from "./open-inference-service.js";
import { FakeRetrainServer } from "./testing/fake-retrain-server.js";
import {
  OpenInferenceTestClient,
  inferRequest,
  outputValues,
  rawBytes,
} from "./testing/open-inference-client.js";
import { callFailure, type PredictTestClient } from "./testing/predict-clients.js";
import { validPatient } from "./testing/patients.js";
import { ReplicaFixture, deadAddress } from "./testing/replica-fixture.js";
import { type TestArtifact, trainTestArtifact } from "./testing/test-artifacts.js";

const fixture = new ReplicaFixture();
let fake: FakeRetrainServer;
let v1: TestArtifact;
let oip: OpenInferenceTestClient;
let predict: PredictTestClient;

/** Patients over the whole valid range, both genders. */
const PATIENTS: PatientFeatures[] = [
  validPatient(),
  validPatient({ gender: Gender.GENDER_FEMALE, age: 62, totalBilirubin: 7.3, alkalinePhosphatase: 490 }),
  validPatient({ age: 0, totalBilirubin: 0, directBilirubin: 0, albuminGlobulinRatio: 0 }),
  validPatient({ gender: Gender.GENDER_FEMALE, age: 120, aspartateAminotransferase: 10_000, albumin: 10 }),
  validPatient({ alanineAminotransferase: 1_750.25, totalProteins: 3.1, directBilirubin: 19.7 }),
];

beforeAll(async () => {
  fake = new FakeRetrainServer();
  v1 = await trainTestArtifact("v1", 11);
  fake.addVersion(v1);
  fake.addVersion(await trainTestArtifact("v2", 12));
  fake.promote(await trainTestArtifact("v3", 13));
  fake.addVersion(await trainTestArtifact("v4", 14));
  fake.rejected.add("v4");
  await fake.start(0);
  fixture.onClose(() => fake.stop());
  const replica = await fixture.replica(`127.0.0.1:${fake.port}`);
  predict = replica.client;
  await replica.server.holder.waitFor((m) => m.version === "v3", 20_000);
  oip = new OpenInferenceTestClient(`127.0.0.1:${replica.server.port}`);
  fixture.onClose(() => oip.close());
});

afterAll(() => fixture.close());

function numbers(values: number[] | string[]): number[] {
  return values.map(Number);
}

/** Fails unless the call fails with `code` and details containing every part. */
async function expectFailure(promise: Promise<unknown>, code: status, ...parts: string[]): Promise<void> {
  const failure = await callFailure(promise);
  expect(status[failure.code], failure.details).toBe(status[code]);
  for (const part of parts) expect(failure.details).toContain(part);
}

describe("server and model state", () => {
  it("answers ServerLive, ServerReady and ModelReady like the health service", async () => {
    expect(await oip.serverLive()).toBe(true);
    expect(await oip.serverReady()).toBe(true);
    expect(await oip.modelReady()).toBe(true);
    expect(await oip.modelReady("liver-disease", "v3")).toBe(true);
    expect(await predict.healthStatus(OPEN_INFERENCE_SERVICE_NAME)).toBe("SERVING");
    await expectFailure(oip.modelReady("resnet50"), status.NOT_FOUND, "resnet50", "liver-disease");
    await expectFailure(oip.modelReady(""), status.INVALID_ARGUMENT, "liver-disease");
  });

  it("answers ServerMetadata with the server's name and version", async () => {
    const packageJson = JSON.parse(
      readFileSync(path.join(import.meta.dirname, "../../package.json"), "utf8"),
    ) as { version: string };
    expect(await oip.serverMetadata()).toEqual({
      name: "liver-mesh",
      version: packageJson.version,
      extensions: [],
    });
  });

  it("lists the registry's servable versions, every input and every output in ModelMetadata", async () => {
    const metadata = await oip.modelMetadata();
    expect(metadata.name).toBe("liver-disease");
    // Newest first; the rejected v4 failed the gate and is never offered.
    expect(metadata.versions).toEqual(["v3", "v2", "v1"]);
    expect(metadata.inputs.map((t) => [t.name, t.datatype, t.shape])).toEqual(
      FEATURES.map((spec) => [spec.name, spec.kind === "gender" ? "BYTES" : "FP64", [-1]]),
    );
    expect(metadata.outputs.map((t) => t.name)).toEqual([
      "probability",
      "diagnosis",
      "feedback_token",
      ...FEATURES.map((spec) => `contribution_${spec.name}`),
    ]);
    expect(metadata.properties["serving_version"]).toBe("v3");
    expect((await oip.modelMetadata("liver-disease", "v1")).versions).toEqual(["v3", "v2", "v1"]);
    await expectFailure(oip.modelMetadata("liver-disease", "v4"), status.NOT_FOUND, "v4", "v3, v2, v1");
    await expectFailure(oip.modelMetadata("liver-disease", "v99"), status.NOT_FOUND, "v99", "v3, v2, v1");
    await expectFailure(oip.modelMetadata("bert"), status.NOT_FOUND, "bert");
  });
});

describe("ModelInfer", () => {
  const shapes = [
    { label: "typed FP64, gender BYTES", shape: {} },
    { label: "raw FP64, gender BYTES", shape: { raw: true } },
    { label: "typed FP64, gender INT32", shape: { genderInt32: true } },
    { label: "raw FP64, gender INT32", shape: { raw: true, genderInt32: true } },
  ];

  it.each(shapes)("answers $label exactly as liver.v1 Predict does", async ({ shape }) => {
    const response = await oip.modelInfer(inferRequest(PATIENTS, shape));
    expect(response.modelName).toBe("liver-disease");
    expect(response.modelVersion).toBe("v3");
    expect(response.id).toBe("request-1");
    expect(response.outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual([
      ["probability", "FP64", [PATIENTS.length]],
      ["diagnosis", "BYTES", [PATIENTS.length]],
      ["feedback_token", "BYTES", [PATIENTS.length]],
    ]);
    // Raw in, raw out; typed in, typed out.
    expect(response.rawOutputContents.length).toBe(shape.raw === true ? 3 : 0);
    const probabilities = numbers(outputValues(response, "probability"));
    const diagnoses = outputValues(response, "diagnosis");
    const tokens = outputValues(response, "feedback_token") as string[];
    const verifier = new FeedbackTokenSigner(fixture.signingKey);
    for (const [i, patient] of PATIENTS.entries()) {
      const expected = await predict.predict(patient);
      expect(Math.abs((probabilities[i] ?? Number.NaN) - expected.probability)).toBeLessThanOrEqual(1e-12);
      expect(diagnoses[i]).toBe(
        expected.diagnosis === Diagnosis.DIAGNOSIS_LIVER_DISEASE ? "liver_disease" : "no_liver_disease",
      );
      const record = verifier.verify(tokens[i] ?? "");
      expect(record.modelVersion).toBe("v3");
      expect(record.probability).toBe(probabilities[i]);
      expect(Array.from(record.features)).toEqual(Array.from(toFeatureVector(patient)));
    }
  });

  it("accepts FP32 numbers, typed and raw, scoring the float32 values", async () => {
    const rounded = PATIENTS.map((p) => {
      const copy = { ...p };
      for (const spec of FEATURES)
        if (spec.kind === "numeric") copy[spec.key] = Math.fround(p[spec.key] ?? 0);
      return copy;
    });
    for (const raw of [false, true]) {
      const response = await oip.modelInfer(inferRequest(PATIENTS, { fp32: true, raw }));
      const probabilities = numbers(outputValues(response, "probability"));
      for (const [i, patient] of rounded.entries()) {
        const expected = await predict.predict(patient);
        expect(Math.abs((probabilities[i] ?? Number.NaN) - expected.probability)).toBeLessThanOrEqual(1e-12);
      }
    }
  });

  it("accepts shape [N, 1] as MLServer's pandas codec sends it", async () => {
    const request = inferRequest(PATIENTS.slice(0, 2), { raw: true });
    for (const input of request.inputs) input.shape = [2, 1];
    const response = await oip.modelInfer(request);
    expect(outputValues(response, "probability")).toHaveLength(2);
  });

  it("leaves feedback tokens out with omit_feedback_tokens and explains with explain", async () => {
    for (const raw of [false, true]) {
      const response = await oip.modelInfer(
        inferRequest(PATIENTS, {
          raw,
          parameters: { omit_feedback_tokens: { boolParam: true }, explain: { boolParam: true } },
        }),
      );
      expect(response.outputs.map((o) => o.name)).toEqual([
        "probability",
        "diagnosis",
        ...FEATURES.map((spec) => `contribution_${spec.name}`),
      ]);
      for (const [i, patient] of PATIENTS.entries()) {
        const expected = await predict.predict(patient);
        for (const entry of expected.explanation?.contributions ?? []) {
          const column = numbers(outputValues(response, `contribution_${entry.name}`));
          expect(Math.abs((column[i] ?? Number.NaN) - entry.contribution)).toBeLessThanOrEqual(1e-12);
        }
      }
    }
  });

  it("returns only the outputs asked for", async () => {
    const response = await oip.modelInfer(inferRequest(PATIENTS, { outputs: ["diagnosis"] }));
    expect(response.outputs.map((o) => o.name)).toEqual(["diagnosis"]);
  });

  it("serves a named older version fetched from the registry, verified and cached", async () => {
    expect(await oip.modelReady("liver-disease", "v1")).toBe(false);
    const before = fake.artifactRequests.filter((v) => v === "v1").length;
    const first = await oip.modelInfer(inferRequest(PATIENTS, { raw: true, version: "v1" }));
    const second = await oip.modelInfer(inferRequest(PATIENTS, { version: "v1" }));
    expect(first.modelVersion).toBe("v1");
    expect(second.modelVersion).toBe("v1");
    expect(fake.artifactRequests.filter((v) => v === "v1").length - before).toBe(1);
    expect(await oip.modelReady("liver-disease", "v1")).toBe(true);
    const local = await new ModelLoader().load({
      files: v1.files,
      expectedSha256: v1.sha256,
      expectedVersion: "v1",
      source: ModelSource.MODEL_SOURCE_RETRAIN_SERVICE,
    });
    const probabilities = numbers(outputValues(first, "probability"));
    const serving = numbers(outputValues(await oip.modelInfer(inferRequest(PATIENTS)), "probability"));
    for (const [i, patient] of PATIENTS.entries()) {
      const expected = local.score(toFeatureVector(patient), 0);
      expect(Math.abs((probabilities[i] ?? Number.NaN) - expected)).toBeLessThanOrEqual(1e-12);
    }
    expect(probabilities).not.toEqual(serving);
  });

  it("answers NOT_FOUND naming the available versions for a version the registry cannot serve", async () => {
    await expectFailure(
      oip.modelInfer(inferRequest(PATIENTS, { version: "v9" })),
      status.NOT_FOUND,
      "v9",
      "v3, v2, v1",
    );
    await expectFailure(
      oip.modelInfer(inferRequest(PATIENTS, { version: "v4" })),
      status.NOT_FOUND,
      "v4",
      "v3, v2, v1",
    );
    const other = inferRequest(PATIENTS);
    other.modelName = "densenet";
    await expectFailure(oip.modelInfer(other), status.NOT_FOUND, "densenet", "liver-disease");
  });
});

describe("ModelInfer refuses bad input with INVALID_ARGUMENT naming it", () => {
  /** A valid request for two patients, changed by `change`. */
  function bad(change: (request: ModelInferRequest) => void, raw = false): ModelInferRequest {
    const request = inferRequest(PATIENTS.slice(0, 2), { raw });
    change(request);
    return request;
  }
  function input(request: ModelInferRequest, name: string): ModelInferRequest["inputs"][number] {
    const found = request.inputs.find((i) => i.name === name);
    if (found === undefined) throw new Error(name);
    return found;
  }
  function rawOf(request: ModelInferRequest, name: string): Buffer {
    return request.rawInputContents[request.inputs.findIndex((i) => i.name === name)] ?? Buffer.alloc(0);
  }
  function setRaw(request: ModelInferRequest, name: string, bytes: Buffer): void {
    request.rawInputContents[request.inputs.findIndex((i) => i.name === name)] = bytes;
  }

  const cases: { name: string; request: () => ModelInferRequest; parts: string[] }[] = [
    {
      name: "a missing input",
      request: () => bad((r) => (r.inputs = r.inputs.filter((i) => i.name !== "albumin"))),
      parts: ["input albumin is missing", "0 to 10 g/dL"],
    },
    {
      name: "a missing raw input",
      request: () =>
        bad((r) => {
          const at = r.inputs.findIndex((i) => i.name === "gender");
          r.inputs.splice(at, 1);
          r.rawInputContents.splice(at, 1);
        }, true),
      parts: ["input gender is missing"],
    },
    {
      name: "an unknown input",
      request: () => bad((r) => r.inputs.push({ ...input(r, "age"), name: "height" })),
      parts: ['input "height" is not an input of liver-disease'],
    },
    {
      name: "an input given twice",
      request: () => bad((r) => r.inputs.push({ ...input(r, "age") })),
      parts: ["input age is given more than once"],
    },
    {
      name: "a wrong numeric datatype",
      request: () => bad((r) => (input(r, "age").datatype = "INT64")),
      parts: ['input age has datatype "INT64"', "FP64"],
    },
    {
      name: "a wrong gender datatype",
      request: () => bad((r) => (input(r, "gender").datatype = "FP64")),
      parts: ['input gender has datatype "FP64"', "BYTES"],
    },
    {
      name: "a matrix shape",
      request: () => bad((r) => (input(r, "total_bilirubin").shape = [2, 3])),
      parts: ["input total_bilirubin has shape [2, 3]", "[N]"],
    },
    {
      name: "N = 0",
      request: () => bad((r) => r.inputs.forEach((i) => (i.shape = [0]))),
      parts: ["input age has shape [0]"],
    },
    {
      name: "more than 10,000 rows",
      request: () => bad((r) => (input(r, "age").shape = [10_001])),
      parts: ["input age has shape [10001]", "10,000"],
    },
    {
      name: "different N across inputs",
      request: () => bad((r) => (input(r, "albumin").shape = [3])),
      parts: ["input albumin has 3 rows but age has 2"],
    },
    {
      name: "too few typed values",
      request: () => bad((r) => input(r, "albumin").contents?.fp64Contents.pop()),
      parts: ["input albumin has 1 values in contents.fp64_contents", "needs 2"],
    },
    {
      name: "typed values in the wrong field",
      request: () =>
        bad((r) => {
          const contents = input(r, "age").contents;
          if (contents === undefined) throw new Error("no contents");
          contents.fp32Contents = contents.fp64Contents;
          contents.fp64Contents = [];
        }),
      parts: ["input age has 0 values in contents.fp64_contents"],
    },
    {
      name: "no contents at all",
      request: () => bad((r) => (input(r, "age").contents = undefined)),
      parts: ["input age has 0 values"],
    },
    {
      name: "raw contents of the wrong size",
      request: () => bad((r) => setRaw(r, "age", rawOf(r, "age").subarray(0, 12)), true),
      parts: ["input age: raw_input_contents holds 12 bytes", "needs 16"],
    },
    {
      name: "raw contents not one per input",
      request: () => bad((r) => r.rawInputContents.pop(), true),
      parts: ["raw_input_contents has 9 entries for 10 inputs"],
    },
    {
      name: "raw and typed contents together",
      request: () =>
        bad((r) => {
          const typed = inferRequest(PATIENTS.slice(0, 2));
          input(r, "age").contents = input(typed, "age").contents;
        }, true),
      parts: ["input age has contents while raw_input_contents is set"],
    },
    {
      name: "NaN",
      request: () =>
        bad((r) => input(r, "alkaline_phosphatase").contents?.fp64Contents.splice(1, 1, Number.NaN)),
      parts: [
        "input alkaline_phosphatase[1]: Alkaline phosphatase (ALP) (alkaline_phosphatase) is not a number (NaN)",
      ],
    },
    {
      name: "a raw NaN",
      request: () =>
        bad((r) => {
          const bytes = Buffer.alloc(16);
          bytes.writeDoubleLE(Number.NaN, 0);
          bytes.writeDoubleLE(1, 8);
          setRaw(r, "albumin", bytes);
        }, true),
      parts: ["input albumin[0]: Albumin (albumin) is not a number (NaN)"],
    },
    {
      name: "infinity",
      request: () =>
        bad((r) => input(r, "albumin").contents?.fp64Contents.splice(0, 1, Number.POSITIVE_INFINITY)),
      parts: ["input albumin[0]: Albumin (albumin) is Infinity"],
    },
    {
      name: "a value out of range",
      request: () => bad((r) => input(r, "age").contents?.fp64Contents.splice(1, 1, 130)),
      parts: ["input age[1]: Age (age) is 130 years; valid range 0 to 120 years"],
    },
    {
      name: "a negative raw FP32 value",
      request: () =>
        bad((r) => {
          const age = input(r, "age");
          age.datatype = "FP32";
          const bytes = Buffer.alloc(8);
          bytes.writeFloatLE(-1, 0);
          bytes.writeFloatLE(40, 4);
          setRaw(r, "age", bytes);
        }, true),
      parts: ["input age[0]: Age (age) is -1 years"],
    },
    {
      name: "an unknown gender label",
      request: () =>
        bad((r) => {
          const contents = input(r, "gender").contents;
          if (contents !== undefined) contents.bytesContents = [Buffer.from("male"), Buffer.from("robot")];
        }),
      parts: ['input gender[1] is "robot"; expected male or female'],
    },
    {
      name: "an unknown gender enum number",
      request: () =>
        bad((r) => {
          const gender = input(r, "gender");
          gender.datatype = "INT32";
          gender.contents = InferTensorContents.fromPartial({ intContents: [1, 7] });
        }),
      parts: ["input gender[1]: Gender (gender) has unknown enum value 7"],
    },
    {
      name: "an unspecified gender",
      request: () =>
        bad((r) => {
          input(r, "gender").datatype = "INT32";
          setRaw(r, "gender", Buffer.from([0, 0, 0, 0, 1, 0, 0, 0]));
        }, true),
      parts: ["input gender[0]: Gender (gender) is required"],
    },
    {
      name: "truncated raw BYTES",
      request: () => bad((r) => setRaw(r, "gender", rawBytes([Buffer.from("male")]).subarray(0, 6)), true),
      parts: ["input gender: raw_input_contents ends inside element 0"],
    },
    {
      name: "raw BYTES with trailing bytes",
      request: () =>
        bad(
          (r) =>
            setRaw(
              r,
              "gender",
              Buffer.concat([rawBytes([Buffer.from("male"), Buffer.from("female")]), Buffer.from([9])]),
            ),
          true,
        ),
      parts: ["input gender: raw_input_contents has 1 bytes after its 2 BYTES elements"],
    },
    {
      name: "a parameter of the wrong type",
      request: () => bad((r) => (r.parameters["explain"] = { stringParam: "yes" })),
      parts: ["parameter explain must be a bool_param"],
    },
    {
      name: "an output that is not produced",
      request: () => bad((r) => r.outputs.push({ name: "contribution_age", parameters: {} })),
      parts: ['output "contribution_age" is not produced'],
    },
    {
      name: "an empty model name",
      request: () => bad((r) => (r.modelName = "")),
      parts: ["the model name is required"],
    },
    {
      name: "a malformed version",
      request: () => bad((r) => (r.modelVersion = "../../etc/passwd")),
      parts: ['model version "../../etc/passwd" is not a version name'],
    },
  ];

  it.each(cases)("$name", async ({ request, parts }) => {
    await expectFailure(oip.modelInfer(request()), status.INVALID_ARGUMENT, ...parts);
  });

  it("reports every bad value of a large request, capped, never another code", async () => {
    const patients = Array.from({ length: 5_000 }, () => validPatient({ age: -5 }));
    const failure = await callFailure(oip.modelInfer(inferRequest(patients, { raw: true })));
    expect(status[failure.code]).toBe("INVALID_ARGUMENT");
    expect(failure.details).toContain("input age[0]: Age (age) is -5 years");
    expect(failure.details).toContain("and 80 more");
  });
});

describe("ModelInfer before a model is in", () => {
  it("says not ready and answers UNAVAILABLE", async () => {
    const replica = await fixture.replica(await deadAddress(), { startupFallbackMs: 600_000 });
    const client = new OpenInferenceTestClient(`127.0.0.1:${replica.server.port}`);
    try {
      expect(await client.serverLive()).toBe(true);
      expect(await client.serverReady()).toBe(false);
      expect(await client.modelReady()).toBe(false);
      await expectFailure(
        client.modelInfer(inferRequest(PATIENTS)),
        status.UNAVAILABLE,
        "no model loaded yet",
      );
      await expectFailure(client.modelMetadata(), status.UNAVAILABLE, "model registry");
    } finally {
      client.close();
    }
  });
});

it("scores each row independently of the others in one call", async () => {
  const single = await Promise.all(
    PATIENTS.map(
      async (p) => numbers(outputValues(await oip.modelInfer(inferRequest([p])), "probability"))[0],
    ),
  );
  const batch = numbers(
    outputValues(await oip.modelInfer(inferRequest(PATIENTS, { raw: true })), "probability"),
  );
  expect(batch).toEqual(single);
});

it("serves the canonical proto byte for byte as upstream published it (sha256 in its README)", () => {
  const dir = path.join(import.meta.dirname, "../../third_party/open-inference-protocol");
  const digest = createHash("sha256")
    .update(readFileSync(path.join(dir, "open_inference_grpc.proto")))
    .digest("hex");
  expect(digest).toBe("0f715460d60b014a23e06ac8e768cfa3d8336221cdb66bd7aeeab6dc27620b0f");
  expect(readFileSync(path.join(dir, "README.md"), "utf8")).toContain(digest);
  expect(readFileSync(path.join(dir, "LICENSE"), "utf8")).toContain("Apache License");
});
