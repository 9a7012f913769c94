/**
 * The project's one float64 logistic fit, for the small models fitted outside the tfjs
 * trainer: the plausibility screen's fixed judge (fitPlainLogistic), the site output
 * recalibration (site-recalibration.ts) and the per-site closed test (site-calibration.ts).
 * Newton's method (IRLS) on
 *   rowWeight · Σ_rows logloss(label, offset + θ·x) + Σ_j precision_j/2 · (θ_j − centre_j)²
 * with step halving, so every accepted step lowers this strictly convex objective. The
 * Newton system is solved by ml-matrix's Cholesky decomposition. The trainer's L1 and
 * sign-constrained Newton step (solveProximalNewtonStep) lives here too, beside it.
 */
import { CholeskyDecomposition, Matrix } from "ml-matrix";

/** Rows of a logistic fit: logit_i = offset_i + θ · x_i. */
export interface LogisticFitProblem {
  readonly rows: number;
  readonly labels: ArrayLike<number>;
  /** Writes row `row`'s inputs into `x` (one per parameter; 1 for an intercept); returns its fixed offset. */
  readonly input: (row: number, x: Float64Array) => number;
  /** Rows left out of the fit; default none. */
  readonly include?: ((row: number) => boolean) | undefined;
}

/** Options of fitLogistic. */
export interface LogisticFitOptions {
  /** Where Newton starts; its length is the number of parameters. */
  readonly start: ArrayLike<number>;
  /** Weight of every row's log loss: 1 for a sum, 1/rows for a mean. Default 1. */
  readonly rowWeight?: number;
  /** Gaussian prior (ridge) precision per parameter; default 0 (none). */
  readonly precision?: ArrayLike<number>;
  /** The prior's centre per parameter; default 0. */
  readonly centre?: ArrayLike<number>;
  /** Added to the Hessian's diagonal only, so a constant column cannot make it singular. Default 0. */
  readonly jitter?: number;
  readonly maxIterations?: number;
}

/** The fitted parameters and the curvature at the last Newton step. */
export interface LogisticFit {
  readonly theta: Float64Array;
  /** The objective's Hessian (row-major) at the start of the last iteration; its inverse is the posterior covariance. */
  readonly hessian: Float64Array;
}

/** log(1 + e^m) − y·m without overflow: one row's log loss at log-odds m. */
export function logLoss(m: number, label: number): number {
  return (m > 0 ? m + Math.log1p(Math.exp(-m)) : Math.log1p(Math.exp(m))) - (label === 1 ? m : 0);
}

/** Converged when no parameter moves more than this in a step. */
const STEP_TOLERANCE = 1e-10;

/**
 * Minimizes the penalized log loss. Stops when no parameter moves more than 1e-10, when no
 * halving of the step lowers the objective beyond rounding, or when the Hessian is not
 * positive definite (the data cannot identify the parameters).
 */
export function fitLogistic(problem: LogisticFitProblem, options: LogisticFitOptions): LogisticFit {
  const n = options.start.length;
  const rowWeight = options.rowWeight ?? 1;
  const jitter = options.jitter ?? 0;
  const include = problem.include ?? ((): boolean => true);
  const precision = (j: number): number => options.precision?.[j] ?? 0;
  const centre = (j: number): number => options.centre?.[j] ?? 0;
  const x = new Float64Array(n);
  const logit = (theta: Float64Array, row: number): number => {
    let m = problem.input(row, x);
    for (let j = 0; j < n; j++) m += (theta[j] ?? 0) * (x[j] ?? 0);
    return m;
  };
  const objective = (theta: Float64Array): number => {
    let prior = 0;
    for (let j = 0; j < n; j++) prior += (precision(j) / 2) * ((theta[j] ?? 0) - centre(j)) ** 2;
    let sum = 0;
    for (let row = 0; row < problem.rows; row++) {
      if (include(row)) sum += logLoss(logit(theta, row), problem.labels[row] ?? 0);
    }
    return prior + rowWeight * sum;
  };

  let theta = Float64Array.from(options.start);
  let current = objective(theta);
  const hessian = new Float64Array(n * n);
  const gradient = new Float64Array(n);
  for (let iteration = 0; iteration < (options.maxIterations ?? 100); iteration++) {
    hessian.fill(0);
    for (let j = 0; j < n; j++) {
      gradient[j] = precision(j) * ((theta[j] ?? 0) - centre(j));
      hessian[j * n + j] = precision(j) + jitter;
    }
    for (let row = 0; row < problem.rows; row++) {
      if (!include(row)) continue;
      const p = 1 / (1 + Math.exp(-logit(theta, row)));
      const e = rowWeight * (p - (problem.labels[row] ?? 0));
      const w = rowWeight * p * (1 - p);
      for (let i = 0; i < n; i++) {
        const xi = x[i] ?? 0;
        gradient[i] = (gradient[i] ?? 0) + e * xi;
        for (let j = 0; j <= i; j++) hessian[i * n + j] = (hessian[i * n + j] ?? 0) + w * xi * (x[j] ?? 0);
      }
    }
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) hessian[j * n + i] = hessian[i * n + j] ?? 0;
    const cholesky = new CholeskyDecomposition(Matrix.from1DArray(n, n, hessian));
    if (!cholesky.isPositiveDefinite()) break;
    const step = cholesky.solve(Matrix.columnVector(gradient)).getColumn(0);
    // Rounding in a sum over many rows makes objectives that differ by less than this equal.
    const noise = 1e-12 * Math.max(1, Math.abs(current));
    let scale = 1;
    let next = theta.map((v, j) => v - (step[j] ?? 0));
    let value = objective(next);
    for (let halvings = 0; !(value <= current + noise) && halvings < 40; halvings++) {
      scale /= 2;
      next = theta.map((v, j) => v - scale * (step[j] ?? 0));
      value = objective(next);
    }
    if (!(value <= current + noise)) break;
    theta = next;
    current = value;
    let largest = 0;
    for (let j = 0; j < n; j++) largest = Math.max(largest, Math.abs(scale * (step[j] ?? 0)));
    if (largest < STEP_TOLERANCE) break;
  }
  return { theta, hessian: Float64Array.from(hessian) };
}

/** Weights over `columns` standardized inputs, and the intercept. */
export interface PlainLogistic {
  readonly weights: Float64Array;
  readonly bias: number;
}

/**
 * The plausibility screen's fixed judge of feedback: the worker's tfjs trainer is not
 * available on the main thread, and eleven parameters on tens of thousands of rows take
 * Newton a few passes. Fits on `rows × columns` row-major standardized inputs and 0/1
 * labels, minimizing the mean log loss plus `ridge`/2 · |weights|² (the intercept is not
 * penalized). The project's model is still trained by trainer.ts.
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

/** 1: weight >= 0; -1: weight <= 0; 0: unconstrained. */
export type SignConstraint = -1 | 0 | 1;

/**
 * Exact minimizer of gᵀd + ½dᵀHd + l1·Σ_{j<last}|w_j + d_j| by cyclic coordinate descent;
 * the last coordinate is the unpenalized intercept. With `signs`, each w_j + d_j stays on
 * its side of zero (the coordinate minimum of a convex one-dimensional problem, clamped to
 * the half-line, is the constrained minimum), so the step is the box-constrained one.
 */
export function solveProximalNewtonStep(
  w: Float64Array,
  gradient: Float64Array,
  hessian: Float64Array,
  l1: number,
  signs?: ArrayLike<SignConstraint>,
): Float64Array {
  const n = w.length;
  const d = new Float64Array(n);
  for (let sweep = 0; sweep < 1000; sweep++) {
    let largest = 0;
    for (let j = 0; j < n; j++) {
      // Tiny ridge keeps a constant (all-zero) column from dividing by zero.
      const a = (hessian[j * n + j] ?? 0) + 1e-10;
      let b = gradient[j] ?? 0;
      for (let k = 0; k < n; k++) if (k !== j) b += (hessian[j * n + k] ?? 0) * (d[k] ?? 0);
      const wj = w[j] ?? 0;
      let next: number;
      if (j === n - 1 || l1 === 0) {
        next = -b / a;
      } else {
        // u = w_j + d_j minimizes a/2 (u - w_j)² + b (u - w_j) + l1 |u|: soft-thresholding.
        const target = wj - b / a;
        const shrunk = Math.abs(target) - l1 / a;
        const u = clampToSign(shrunk > 0 ? Math.sign(target) * shrunk : 0, signs?.[j] ?? 0);
        next = u - wj;
      }
      if (j < n - 1 && l1 === 0) next = clampToSign(wj + next, signs?.[j] ?? 0) - wj;
      largest = Math.max(largest, Math.abs(next - (d[j] ?? 0)));
      d[j] = next;
    }
    if (largest < 1e-13) break;
  }
  return d;
}

function clampToSign(value: number, sign: SignConstraint): number {
  if (sign === 1) return value > 0 ? value : 0;
  if (sign === -1) return value < 0 ? value : 0;
  return value;
}
