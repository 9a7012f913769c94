import { IDENTITY_CALIBRATION } from "../../shared/model/output-calibration.js";
import type { CandidateRequest, CandidateTrainer } from "../candidate-trainer.js";

/**
 * A trainer that "trains" instantly: for tests of the stream and shutdown, not of training.
 * It reports the serving version the run started with as re-scored, so the gate compares.
 */
export const instantTrainer: CandidateTrainer = {
  train: (request: CandidateRequest) =>
    Promise.resolve({
      metrics: {
        rows: 10,
        positives: 5,
        rocAuc: 0.8,
        accuracy: 0.7,
        logLoss: 0.5,
        brier: 0.2,
        threshold: 0.5,
        confusion: { truePositives: 4, falsePositives: 2, trueNegatives: 3, falseNegatives: 1 },
      },
      originalRows: 100,
      feedbackRows: 0,
      holdoutRows: 10,
      sha256: "0".repeat(64),
      synthetic: true,
      gate: {
        holdoutScheme: "lab-profile-v1",
        holdoutFingerprint: "0".repeat(64),
        referenceRocAuc: 0.8,
        serving:
          request.servingVersion === undefined
            ? undefined
            : { modelVersion: request.servingVersion, rocAuc: 0.8 },
        slices: [],
      },
      served: { approvedVersion: request.approvedVersion, changes: [] },
      calibration: {
        formatVersion: 1,
        ...IDENTITY_CALIBRATION,
        applied: false,
        reason: "test",
        fitRows: 0,
        checkRows: 0,
        checkLogLossBase: Number.NaN,
        checkLogLossRecalibrated: Number.NaN,
      },
    }),
  close: () => Promise.resolve(),
};
