/**
 * A plain float64 logistic regression by Newton's method with a small ridge, for the main
 * thread's fixed judge of feedback (plausibility-screen.ts): the worker's tfjs trainer is
 * not available there, and eleven parameters on tens of thousands of rows take Newton a
 * few passes (about 50 ms on the real file). Hand-written because it is that small and
 * needs no tensors; the project's model is still trained by trainer.ts.
 */
import { choleskyFactor } from "../data/synthetic-params.js";

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
  const n = columns + 1;
  const theta = new Float64Array(n);
  const gradient = new Float64Array(n);
  const hessian = new Float64Array(n * n);
  const feature = (row: number, j: number): number => (j === columns ? 1 : (x[row * columns + j] ?? 0));
  for (let iteration = 0; iteration < iterations; iteration++) {
    gradient.fill(0);
    hessian.fill(0);
    for (let row = 0; row < rows; row++) {
      let z = 0;
      for (let j = 0; j < n; j++) z += (theta[j] ?? 0) * feature(row, j);
      const p = 1 / (1 + Math.exp(-z));
      const e = (p - (labels[row] ?? 0)) / rows;
      const w = (p * (1 - p)) / rows;
      for (let i = 0; i < n; i++) {
        const fi = feature(row, i);
        gradient[i] = (gradient[i] ?? 0) + e * fi;
        for (let j = 0; j <= i; j++)
          hessian[i * n + j] = (hessian[i * n + j] ?? 0) + w * fi * feature(row, j);
      }
    }
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < i; j++) hessian[j * n + i] = hessian[i * n + j] ?? 0;
      if (i < columns) {
        gradient[i] = (gradient[i] ?? 0) + ridge * (theta[i] ?? 0);
        hessian[i * n + i] = (hessian[i * n + i] ?? 0) + ridge;
      }
      hessian[i * n + i] = (hessian[i * n + i] ?? 0) + 1e-12;
    }
    const step = solveCholesky(choleskyFactor(hessian, n), gradient);
    let largest = 0;
    for (let j = 0; j < n; j++) {
      theta[j] = (theta[j] ?? 0) - (step[j] ?? 0);
      largest = Math.max(largest, Math.abs(step[j] ?? 0));
    }
    if (largest < 1e-9) break;
  }
  return { weights: theta.slice(0, columns), bias: theta[columns] ?? 0 };
}

/** Solves L Lᵀ s = b for s. */
function solveCholesky(l: number[][], b: Float64Array): Float64Array {
  const n = b.length;
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v = b[i] ?? 0;
    for (let k = 0; k < i; k++) v -= (l[i]?.[k] ?? 0) * (y[k] ?? 0);
    y[i] = v / (l[i]?.[i] ?? 1);
  }
  const s = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let v = y[i] ?? 0;
    for (let k = i + 1; k < n; k++) v -= (l[k]?.[i] ?? 0) * (s[k] ?? 0);
    s[i] = v / (l[i]?.[i] ?? 1);
  }
  return s;
}
