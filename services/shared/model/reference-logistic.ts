/**
 * A plain float64 logistic regression with a small ridge, for the main thread's fixed judge
 * of feedback (plausibility-screen.ts): the worker's tfjs trainer is not available there,
 * and eleven parameters on tens of thousands of rows take Newton (logistic-fit.ts) a few
 * passes. The project's model is still trained by trainer.ts.
 */
import { fitLogistic } from "./logistic-fit.js";

/** Weights over `columns` standardized inputs, and the intercept. */
export interface PlainLogistic {
  readonly weights: Float64Array;
  readonly bias: number;
}

/**
 * Fits on `rows × columns` row-major standardized inputs and 0/1 labels, minimizing the
 * mean log loss plus `ridge`/2 · |weights|² (the intercept is not penalized).
 */
export function fitPlainLogistic(
  x: Float64Array,
  labels: Uint8Array,
  rows: number,
  columns: number,
  ridge = 1e-4,
  iterations = 25,
): PlainLogistic {
  const input = (row: number, out: Float64Array): number => {
    out.set(x.subarray(row * columns, row * columns + columns));
    out[columns] = 1;
    return 0;
  };
  const precision = new Float64Array(columns + 1).fill(ridge);
  precision[columns] = 0;
  const { theta } = fitLogistic(
    { rows, labels, input },
    {
      start: new Float64Array(columns + 1),
      rowWeight: 1 / rows,
      precision,
      jitter: 1e-12,
      maxIterations: iterations,
    },
  );
  return { weights: theta.slice(0, columns), bias: theta[columns] ?? 0 };
}
