import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import { Diagnosis } from "../gen/liver/v1/patient.js";
import {
  Explanation,
  type PredictResponse,
  PredictResponse as PredictResponseCodec,
} from "../gen/liver/v1/predict_service.js";
import { EncodedExplanation } from "./explanation-wire.js";
import { type PredictAnswer, encodePredictResponse } from "./predict-response-encoder.js";

/** The handler's form of `response`: its explanation encoded by the generated encoder. */
function answerOf(response: PredictResponse): PredictAnswer {
  const { explanation } = response;
  return {
    ...response,
    explanation:
      explanation === undefined
        ? undefined
        : new EncodedExplanation(Buffer.from(Explanation.encode(explanation).finish())),
  };
}

const BASE: PredictResponse = {
  probability: 0.596,
  diagnosis: Diagnosis.DIAGNOSIS_LIVER_DISEASE,
  modelVersion: "v12",
  predictionId: "0b7d2c1e-1111-4222-8333-444455556666",
  feedbackToken: "a".repeat(190),
  threshold: 0.5,
  explanation: {
    referenceLogOdds: 0.41,
    contributions: [
      { name: "total_bilirubin", value: 7.3, contribution: 0.84 },
      { name: "albumin", value: 3.1, contribution: -0.3 },
      { name: "gender", value: 2, contribution: 0 },
      { name: "age", value: 0, contribution: -0 },
    ],
  },
  warnings: [],
};

const WARNINGS = [
  {
    fields: ["direct_bilirubin", "total_bilirubin"],
    message: "Direct bilirubin 5 mg/dL is higher than Total bilirubin 0.5 mg/dL",
  },
  { fields: ["albumin", "total_proteins"], message: "Albumin 9 g/dL – ünï ☃ ".repeat(40) },
  { fields: [], message: "" },
  { fields: [""], message: "x" },
];

/** A diagnosis number outside the enum, as a decoder hands it over. */
function oddDiagnosis(value: number): Diagnosis {
  return PredictResponseCodec.decode(new BinaryWriter().uint32(0x10).int32(value).finish()).diagnosis;
}

describe("encodePredictResponse", () => {
  it("writes exactly the generated encoder's bytes, zero values, unicode and odd enums included", () => {
    const cases: PredictResponse[] = [
      BASE,
      { ...BASE, explanation: undefined },
      { ...BASE, explanation: { referenceLogOdds: 0, contributions: [] } },
      {
        ...BASE,
        probability: 0,
        threshold: 0,
        feedbackToken: "",
        diagnosis: Diagnosis.DIAGNOSIS_UNSPECIFIED,
      },
      { ...BASE, probability: -0, modelVersion: "v-ünï-☃", predictionId: "" },
      { ...BASE, diagnosis: oddDiagnosis(-3) },
      { ...BASE, diagnosis: oddDiagnosis(300), feedbackToken: "t".repeat(20_000) },
      { ...BASE, warnings: WARNINGS },
      { ...BASE, explanation: undefined, warnings: WARNINGS.slice(0, 1) },
      { ...BASE, probability: 0, threshold: 0, warnings: WARNINGS.slice(2) },
      {
        ...BASE,
        explanation: {
          referenceLogOdds: -1e300,
          contributions: [{ name: "ä".repeat(200), value: Number.MIN_VALUE, contribution: Number.NaN }],
        },
      },
    ];
    for (const response of cases) {
      const ours = encodePredictResponse(answerOf(response));
      const generated = Buffer.from(PredictResponseCodec.encode(response).finish());
      expect(ours.toString("hex")).toBe(generated.toString("hex"));
    }
  });

  it("round-trips through the generated decoder", () => {
    const decoded = PredictResponseCodec.decode(encodePredictResponse(answerOf(BASE)));
    expect(decoded.explanation?.contributions[0]).toEqual({
      name: "total_bilirubin",
      value: 7.3,
      contribution: 0.84,
    });
    expect(decoded.feedbackToken).toBe(BASE.feedbackToken);
    expect(decoded.warnings).toEqual([]);
    const warned = PredictResponseCodec.decode(
      encodePredictResponse(answerOf({ ...BASE, warnings: WARNINGS })),
    );
    expect(warned.warnings).toEqual(WARNINGS);
  });
});
