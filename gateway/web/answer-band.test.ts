import { describe, expect, it } from "vitest";
import { answerBand, BORDERLINE_HALF_WIDTH, describeAnswerBand } from "./src/answer-band.js";
import { Diagnosis } from "./src/gen/liver/v1/patient.js";

const answer = (probability: number, threshold = 0.5) => ({
  probability,
  threshold,
  diagnosis:
    probability >= threshold ? Diagnosis.DIAGNOSIS_LIVER_DISEASE : Diagnosis.DIAGNOSIS_NO_LIVER_DISEASE,
});

describe("the borderline band around the threshold", () => {
  it("reads 47.8 % as borderline in words, never as 'No liver disease indicated'", () => {
    const { band, text } = describeAnswerBand(answer(0.478));
    expect(band).toBe("borderline");
    expect(text).toMatch(/^Borderline: /);
    expect(text).toContain("40.0 % to 60.0 %");
    expect(text).not.toMatch(/No liver disease/);
  });

  it("covers the threshold ± 10 points, edges included, on either side", () => {
    expect(BORDERLINE_HALF_WIDTH).toBe(0.1);
    for (const p of [0.4, 0.45, 0.5, 0.55, 0.6]) expect(answerBand(answer(p)), String(p)).toBe("borderline");
    expect(answerBand(answer(0.399))).toBe("no-liver-disease");
    expect(answerBand(answer(0.601))).toBe("liver-disease");
    // Against another threshold, the band moves with it.
    expect(answerBand(answer(0.35, 0.42))).toBe("borderline");
    expect(answerBand(answer(0.73, 0.42))).toBe("liver-disease");
  });

  it("keeps the plain readings outside the band, with the threshold", () => {
    expect(describeAnswerBand(answer(0.9)).text).toBe(
      "Liver disease likely (at or above the model's threshold of 50.0 %).",
    );
    expect(describeAnswerBand(answer(0.1)).text).toBe(
      "No liver disease indicated (below the model's threshold of 50.0 %).",
    );
  });

  it("says when the server gave no diagnosis, and never calls a non-number borderline", () => {
    expect(
      describeAnswerBand({
        probability: Number.NaN,
        threshold: 0.5,
        diagnosis: Diagnosis.DIAGNOSIS_UNSPECIFIED,
      }).band,
    ).toBe("unknown");
  });
});
