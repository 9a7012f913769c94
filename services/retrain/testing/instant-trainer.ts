/** A trainer that "trains" instantly: for tests of the stream and shutdown, not of training. */
export const instantTrainer = {
  train: () =>
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
    }),
  close: () => Promise.resolve(),
};
