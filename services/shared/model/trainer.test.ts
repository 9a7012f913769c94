import { beforeAll, describe, expect, it } from "vitest";
import { getTfBackend, type Tf } from "./tf-backend.js";
import { solveProximalNewtonStep, trainLogisticRegression, type TrainingMatrix } from "./trainer.js";
import { Prng } from "../data/prng.js";

const TRUE_KERNEL = [1.2, -0.8, 0.5, 0, 0, 0.3, 0, -0.4, 0, 0];
const TRUE_BIAS = 0.4;

/** Standard-normal features and labels drawn from a known logistic model. */
function logisticData(rows: number, seed: number): { matrix: TrainingMatrix; labels: Uint8Array } {
  const random = new Prng(seed);
  const columns = TRUE_KERNEL.length;
  const values = new Float32Array(rows * columns);
  const labels = new Uint8Array(rows);
  for (let row = 0; row < rows; row++) {
    let z = TRUE_BIAS;
    for (let j = 0; j < columns; j++) {
      const normal =
        Math.sqrt(-2 * Math.log(random.nextFloat())) * Math.cos(2 * Math.PI * random.nextFloat());
      values[row * columns + j] = normal;
      z += (TRUE_KERNEL[j] ?? 0) * Math.fround(normal);
    }
    labels[row] = random.nextFloat() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return { matrix: { rows, columns, values }, labels };
}

/** Gradient of the mean log loss in Float64 JS, independent of the tfjs code path. */
function gradient(
  matrix: TrainingMatrix,
  labels: Uint8Array,
  kernel: Float64Array,
  bias: number,
): Float64Array {
  const { rows, columns, values } = matrix;
  const g = new Float64Array(columns + 1);
  for (let row = 0; row < rows; row++) {
    let z = bias;
    for (let j = 0; j < columns; j++) z += (kernel[j] ?? 0) * (values[row * columns + j] ?? 0);
    const r = 1 / (1 + Math.exp(-z)) - (labels[row] ?? 0);
    for (let j = 0; j < columns; j++) g[j] = (g[j] ?? 0) + (r * (values[row * columns + j] ?? 0)) / rows;
    g[columns] = (g[columns] ?? 0) + r / rows;
  }
  return g;
}

describe("solveProximalNewtonStep", () => {
  it("soft-thresholds the penalized coordinates and leaves the intercept free", () => {
    const identity = Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const d = solveProximalNewtonStep(new Float64Array(3), Float64Array.from([-2, 0.5, 1]), identity, 1);
    // argmin_u 1/2 u^2 - 2u + |u| = 1;  argmin_u 1/2 u^2 + 0.5u + |u| = 0;  intercept: -g = -1.
    expect(d[0]).toBeCloseTo(1, 9);
    expect(d[1]).toBe(0);
    expect(d[2]).toBeCloseTo(-1, 9);
  });

  it("solves the coupled quadratic exactly without a penalty", () => {
    const h = Float64Array.from([2, 1, 1, 3]);
    const g = Float64Array.from([1, 2]);
    const d = solveProximalNewtonStep(new Float64Array(2), g, h, 0);
    // H d = -g  =>  d = [-0.2, -0.6]
    expect(d[0]).toBeCloseTo(-0.2, 9);
    expect(d[1]).toBeCloseTo(-0.6, 9);
  });
});

describe("solveProximalNewtonStep with sign constraints", () => {
  it("keeps each constrained weight on its side of zero and leaves the free ones alone", () => {
    const identity = Float64Array.from([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    const g = Float64Array.from([-2, 2, 2, 1]);
    // Unconstrained (l1 = 0): d = -g = [2, -2, -2, -1]. Column 0 must stay <= 0, column 1 >= 0.
    const d = solveProximalNewtonStep(new Float64Array(4), g, identity, 0, [-1, 1, 0]);
    expect(d[0]).toBe(0);
    expect(d[1]).toBe(0);
    expect(d[2]).toBeCloseTo(-2, 9);
    expect(d[3]).toBeCloseTo(-1, 9);
    // With L1 as well, a feasible target is only shrunk.
    const shrunk = solveProximalNewtonStep(
      new Float64Array(4),
      Float64Array.from([2, -2, 0, 0]),
      identity,
      0.5,
      [-1, 1, 0],
    );
    expect(shrunk[0]).toBeCloseTo(-1.5, 9);
    expect(shrunk[1]).toBeCloseTo(1.5, 9);
  });
});

describe("trainLogisticRegression", () => {
  let tf: Tf;
  const data = logisticData(20_000, 11);
  beforeAll(async () => {
    tf = (await getTfBackend({ info: () => undefined })).tf;
  });

  it("recovers the generating model and meets the optimality conditions", async () => {
    const before = tf.memory().numTensors;
    const l1 = 1e-3;
    const result = await trainLogisticRegression(tf, data.matrix, data.labels, { l1 });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.converged).toBe(true);
    expect(result.iterations).toBeLessThan(15);
    result.weights.kernel.forEach((w, j) => {
      expect(Math.abs(w - (TRUE_KERNEL[j] ?? 0))).toBeLessThan(0.06);
    });
    expect(Math.abs(result.weights.bias - TRUE_BIAS)).toBeLessThan(0.06);
    // KKT for L1: zero weights have |g| <= l1, nonzero ones g = -l1 sign(w); intercept g = 0.
    const g = gradient(data.matrix, data.labels, result.weights.kernel, result.weights.bias);
    result.weights.kernel.forEach((w, j) => {
      const gj = g[j] ?? 0;
      if (w === 0) expect(Math.abs(gj)).toBeLessThanOrEqual(l1 + 1e-5);
      else expect(Math.abs(gj + l1 * Math.sign(w))).toBeLessThan(1e-5);
    });
    expect(Math.abs(g[10] ?? 1)).toBeLessThan(1e-5);
    expect(result.objective).toBeCloseTo(
      result.loss + l1 * result.weights.kernel.reduce((a, w) => a + Math.abs(w), 0),
      12,
    );
  });

  it("zeroes irrelevant weights under a strong L1 penalty", async () => {
    const result = await trainLogisticRegression(tf, data.matrix, data.labels, { l1: 0.03 });
    expect(result.converged).toBe(true);
    const zeros = Array.from(result.weights.kernel, (w) => w === 0);
    expect(result.zeroWeights).toBe(zeros.filter(Boolean).length);
    // The five features with true weight 0 are all dropped; the strong ones survive.
    [3, 4, 6, 8, 9].forEach((j) => expect(zeros[j]).toBe(true));
    [0, 1, 2].forEach((j) => expect(zeros[j]).toBe(false));
  });

  it("is deterministic: same rows, bit-identical weights", async () => {
    const a = await trainLogisticRegression(tf, data.matrix, data.labels);
    const b = await trainLogisticRegression(tf, data.matrix, data.labels);
    expect(Array.from(b.weights.kernel)).toEqual(Array.from(a.weights.kernel));
    expect(b.weights.bias).toBe(a.weights.bias);
  });

  it("reports progress per pass with a non-increasing loss", async () => {
    const seen: { step: number; totalSteps: number; loss: number }[] = [];
    const result = await trainLogisticRegression(tf, data.matrix, data.labels, {
      maxIterations: 40,
      onProgress: (p) => seen.push({ ...p }),
    });
    expect(seen.map((p) => p.step)).toEqual(Array.from({ length: result.iterations }, (_, i) => i + 1));
    expect(seen.every((p) => p.totalSteps === 40)).toBe(true);
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i]?.loss ?? 0).toBeLessThanOrEqual((seen[i - 1]?.loss ?? 0) + 1e-6);
    }
    expect(seen[0]?.loss ?? 0).toBeGreaterThan(result.loss + 0.05);
  });

  it("stops unconverged at maxIterations", async () => {
    const result = await trainLogisticRegression(tf, data.matrix, data.labels, { maxIterations: 2 });
    expect(result.iterations).toBe(2);
    expect(result.converged).toBe(false);
  });

  it("cancels on abort and frees every tensor", async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const run = trainLogisticRegression(tf, data.matrix, data.labels, {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.step === 2) controller.abort(new Error("retrain cancelled"));
      },
    });
    await expect(run).rejects.toThrow("retrain cancelled");
    expect(tf.memory().numTensors).toBe(before);
    const aborted = AbortSignal.abort();
    await expect(trainLogisticRegression(tf, data.matrix, data.labels, { signal: aborted })).rejects.toThrow(
      /aborted/,
    );
  });

  it("holds sign constraints exactly: a weight that wants the wrong sign is 0, the fit optimal otherwise", async () => {
    const l1 = 1e-3;
    // TRUE_KERNEL[1] is -0.8 and [7] is -0.4: require both >= 0; require [0] (1.2) >= 0 too.
    const signs = [1, 1, 0, 0, 0, 0, 0, 1, 0, 0] as const;
    const result = await trainLogisticRegression(tf, data.matrix, data.labels, { l1, signs });
    expect(result.converged).toBe(true);
    expect(result.weights.kernel[1]).toBe(0);
    expect(result.weights.kernel[7]).toBe(0);
    expect(result.weights.kernel[0]).toBeGreaterThan(1);
    // KKT of the box-constrained problem: at an active bound w = 0 with sign s, moving into
    // the allowed side cannot help (s·g >= -l1); elsewhere the usual L1 conditions.
    const g = gradient(data.matrix, data.labels, result.weights.kernel, result.weights.bias);
    result.weights.kernel.forEach((w, j) => {
      const gj = g[j] ?? 0;
      const sign = signs[j] ?? 0;
      if (w === 0 && sign !== 0) expect(sign * gj).toBeGreaterThanOrEqual(-l1 - 1e-5);
      else if (w === 0) expect(Math.abs(gj)).toBeLessThanOrEqual(l1 + 1e-5);
      else expect(Math.abs(gj + l1 * Math.sign(w))).toBeLessThan(1e-5);
    });
    // The same as fitting without those two columns.
    const dropped = Float32Array.from(data.matrix.values, (v, k) => (k % 10 === 1 || k % 10 === 7 ? 0 : v));
    const without = await trainLogisticRegression(tf, { ...data.matrix, values: dropped }, data.labels, {
      l1,
    });
    result.weights.kernel.forEach((w, j) => expect(w).toBeCloseTo(without.weights.kernel[j] ?? 0, 4));
  });

  it("refuses input it cannot fit", async () => {
    const oneClass = new Uint8Array(data.matrix.rows).fill(1);
    await expect(trainLogisticRegression(tf, data.matrix, oneClass)).rejects.toThrow(
      /needs both classes; got 20000 positive of 20000 rows/,
    );
    await expect(trainLogisticRegression(tf, { ...data.matrix, rows: 19_999 }, data.labels)).rejects.toThrow(
      /19999 rows × 10 columns need 199990/,
    );
    await expect(trainLogisticRegression(tf, data.matrix, data.labels, { l1: -1 })).rejects.toThrow(
      /l1 is -1; expected a finite number >= 0/,
    );
    await expect(trainLogisticRegression(tf, data.matrix, data.labels, { signs: [1, -1] })).rejects.toThrow(
      /signs has 2 entries; expected 10/,
    );
    const badSigns = [2, 0, 0, 0, 0, 0, 0, 0, 0, 0] as unknown as readonly (-1 | 0 | 1)[];
    await expect(trainLogisticRegression(tf, data.matrix, data.labels, { signs: badSigns })).rejects.toThrow(
      /signs\[0\] is 2; expected -1, 0 or 1/,
    );
  });
});
