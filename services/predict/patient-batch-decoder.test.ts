import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import { Gender, PatientFeatures } from "../gen/liver/v1/patient.js";
import { PredictBatchRequest } from "../gen/liver/v1/predict_service.js";
import { FEATURE_COUNT } from "../shared/features/feature-schema.js";
import { MAX_BATCH_PATIENTS, WireFormatError, decodePatientBatch } from "./patient-batch-decoder.js";
import { patientViolations, readPatientVector } from "./patient-reader.js";
import { unknownGender } from "./testing/predict-clients.js";
import { validPatient } from "./testing/patients.js";

/** What the serving path derives from a batch: each row's vector, or its violations. */
function viaGenerated(bytes: Buffer): (Float64Array | string[])[] {
  return PredictBatchRequest.decode(bytes).patients.map((patient, i) => {
    const out = new Float64Array(FEATURE_COUNT);
    return readPatientVector(patient, out, 0)
      ? out
      : patientViolations(patient, `patients[${i}].`).map((v) => v.description);
  });
}

function viaDecoder(bytes: Buffer): (Float64Array | string[])[] {
  const batch = decodePatientBatch(bytes);
  return Array.from({ length: batch.count }, (_, i) => {
    const out = new Float64Array(FEATURE_COUNT);
    return batch.readVector(i, out, 0)
      ? out
      : batch.violations(i, `patients[${i}].`).map((v) => v.description);
  });
}

function encode(patients: PatientFeatures[]): Buffer {
  return Buffer.from(PredictBatchRequest.encode(PredictBatchRequest.fromPartial({ patients })).finish());
}

describe("decodePatientBatch", () => {
  it("reads every batch exactly as the generated decoder plus the schema checks do", () => {
    const patients: PatientFeatures[] = [
      validPatient(),
      validPatient({ gender: Gender.GENDER_FEMALE, age: 0, albumin: 10 }),
      validPatient({ age: undefined }),
      validPatient({ age: Number.NaN, totalBilirubin: Number.POSITIVE_INFINITY }),
      validPatient({ albuminGlobulinRatio: -0.0001, alkalinePhosphatase: 5000.5 }),
      validPatient({ gender: Gender.GENDER_UNSPECIFIED }),
      validPatient({ gender: unknownGender(7) }),
      validPatient({ gender: unknownGender(-3) }),
      { gender: Gender.GENDER_UNSPECIFIED },
    ];
    const bytes = encode(patients);
    expect(viaDecoder(bytes)).toEqual(viaGenerated(bytes));
    expect(decodePatientBatch(bytes).count).toBe(patients.length);
    expect(decodePatientBatch(encode([])).count).toBe(0);
  });

  it("skips unknown fields and keeps the last of repeated scalars, as protobuf does", () => {
    const writer = new BinaryWriter();
    writer.uint32((7 << 3) | 2).string("an unknown top-level field");
    const patient = new BinaryWriter();
    patient.uint32((1 << 3) | 1).double(30);
    patient.uint32((1 << 3) | 1).double(40); // age again: the last one counts
    patient.uint32((99 << 3) | 0).uint64(123_456_789); // unknown varint
    patient.uint32((98 << 3) | 5).fixed32(7); // unknown fixed32
    patient.uint32((3 << 3) | 0).uint32(5); // total_bilirubin with the wrong wire type: unknown
    PatientFeatures.encode(validPatient({ age: undefined, totalBilirubin: undefined }), patient);
    writer.uint32((1 << 3) | 2).bytes(patient.finish());
    writer.uint32((1 << 3) | 2).bytes(PatientFeatures.encode(validPatient({ age: 71 })).finish());
    const bytes = Buffer.from(writer.finish());
    expect(viaDecoder(bytes)).toEqual(viaGenerated(bytes));
    const rows = viaDecoder(bytes);
    expect(rows[0]).toEqual(["Total bilirubin (patients[0].total_bilirubin) is required: 0 to 100 mg/dL"]);
    expect((rows[1] as Float64Array)[0]).toBe(71);
  });

  it("reads include_explanations and omit_feedback_tokens as the generated decoder does", () => {
    const patients = [validPatient()];
    for (const includeExplanations of [false, true]) {
      for (const omitFeedbackTokens of [false, true]) {
        const bytes = Buffer.from(
          PredictBatchRequest.encode({ patients, includeExplanations, omitFeedbackTokens }).finish(),
        );
        const batch = decodePatientBatch(bytes);
        expect([batch.includeExplanations, batch.omitFeedbackTokens]).toEqual([
          includeExplanations,
          omitFeedbackTokens,
        ]);
      }
    }
    // Any non-zero varint is true, the last occurrence counts, and a wrong wire type is an
    // unknown field that is skipped (the generated decoder does the same).
    const writer = new BinaryWriter();
    writer.uint32((2 << 3) | 0).uint64(1n << 40n);
    writer.uint32((3 << 3) | 0).uint32(7);
    writer.uint32((3 << 3) | 0).uint32(0);
    writer.uint32((2 << 3) | 2).bytes(new Uint8Array([0]));
    writer.uint32((1 << 3) | 2).bytes(PatientFeatures.encode(validPatient()).finish());
    const bytes = Buffer.from(writer.finish());
    const generated = PredictBatchRequest.decode(bytes);
    const batch = decodePatientBatch(bytes);
    expect(generated.includeExplanations).toBe(true);
    expect(generated.omitFeedbackTokens).toBe(false);
    expect(batch.includeExplanations).toBe(true);
    expect(batch.omitFeedbackTokens).toBe(false);
    expect(batch.count).toBe(1);
  });

  it("refuses truncated input with a clear message", () => {
    const bytes = encode([validPatient(), validPatient()]);
    for (const cut of [1, 10, bytes.length - 1]) {
      expect(() => decodePatientBatch(bytes.subarray(0, cut))).toThrow(WireFormatError);
    }
    expect(() => decodePatientBatch(Buffer.from([0x0f]))).toThrow("wire type 7 of field 1 is not valid");
  });

  it("counts an oversized batch without decoding it", () => {
    const bytes = Buffer.alloc(2 * (MAX_BATCH_PATIENTS + 1));
    for (let i = 0; i < bytes.length; i += 2) bytes[i] = 0x0a; // empty patients
    const batch = decodePatientBatch(bytes);
    expect(batch.count).toBe(MAX_BATCH_PATIENTS + 1);
    expect(batch.values.length).toBe(0);
  });
});
