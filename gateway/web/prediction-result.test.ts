import { describe, expect, it } from "vitest";
import { Diagnosis } from "./src/gen/liver/v1/patient.js";
import type { PredictResponse } from "./src/gen/liver/v1/predict_service.js";
import { GrpcCode, GrpcWebError } from "./src/grpc-status.js";
import { describeDiagnosis, describePredictFailure, formatProbability } from "./src/prediction-result.js";

const prediction = (diagnosis: Diagnosis): PredictResponse => ({
  probability: 0.73,
  diagnosis,
  modelVersion: "v2",
  predictionId: "p",
  feedbackToken: "t",
  threshold: 0.42,
  explanation: undefined,
  warnings: [],
});

describe("formatProbability", () => {
  it("shows one decimal and never rounds to a false certainty", () => {
    expect(formatProbability(0.7291)).toBe("72.9 %");
    expect(formatProbability(0.99996)).toBe("> 99.9 %");
    expect(formatProbability(0.00004)).toBe("< 0.1 %");
    expect(formatProbability(1)).toBe("100.0 %");
    expect(formatProbability(0)).toBe("0.0 %");
  });
});

describe("describeDiagnosis", () => {
  it("states the diagnosis against the model's threshold", () => {
    expect(describeDiagnosis(prediction(Diagnosis.DIAGNOSIS_LIVER_DISEASE))).toBe(
      "Liver disease likely (at or above the model's threshold of 42.0 %).",
    );
    expect(describeDiagnosis(prediction(Diagnosis.DIAGNOSIS_NO_LIVER_DISEASE))).toBe(
      "No liver disease indicated (below the model's threshold of 42.0 %).",
    );
  });
});

describe("describePredictFailure", () => {
  it("passes the server's field message on for bad input (in the form's words) and asks for patience when the service is down", () => {
    expect(
      describePredictFailure(
        new GrpcWebError(GrpcCode.INVALID_ARGUMENT, "age is 130; valid range is 0 to 120 years", "/p"),
      ),
    ).toBe("The server refused the values: Age is 130; valid range is 0 to 120 years");
    expect(
      describePredictFailure(
        new GrpcWebError(
          GrpcCode.INVALID_ARGUMENT,
          "gender is required; expected GENDER_MALE or GENDER_FEMALE",
          "/p",
        ),
      ),
    ).toBe("The server refused the values: Choose the patient's sex.");
    // Signed out: what to do, never the raw "UNAUTHENTICATED ... Bearer" text.
    const signedOut = describePredictFailure(
      new GrpcWebError(
        GrpcCode.UNAUTHENTICATED,
        "Predict requires authentication: send 'authorization: Bearer'",
        "/p",
      ),
    );
    expect(signedOut).toMatch(/not signed in/);
    expect(signedOut).not.toMatch(/UNAUTHENTICATED|Bearer/);
    expect(describePredictFailure(new GrpcWebError(GrpcCode.UNAVAILABLE, "no model loaded yet", "/p"))).toBe(
      "No prediction: the prediction service is unavailable. Try again in a moment. (UNAVAILABLE: no model loaded yet)",
    );
  });
});
