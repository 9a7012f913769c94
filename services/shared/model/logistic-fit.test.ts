import { describe, expect, it } from "vitest";
import { fitLogistic, fitPlainLogistic } from "./logistic-fit.js";
import { fitSiteCalibration } from "./site-calibration.js";
import { fitLogitMap, fitSiteRecalibration } from "./site-recalibration.js";

/** A fixed, seeded dataset: rows from a known logistic model, and a miscalibrated base model's log-odds. */
interface FitFixture {
  readonly x: Float64Array;
  readonly labels: Uint8Array;
  readonly rows: number;
  readonly columns: number;
  /** A base model's log-odds per row (a miscalibrated version of the true ones). */
  readonly logits: Float64Array;
  readonly heldOut: Uint8Array;
}

/** Rows drawn from a known logistic model with a seeded generator (mulberry32). */
function fitFixture(rows: number, seed: number, slope: number, shift: number): FitFixture {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  const columns = 4;
  const truth = [0.8, -0.5, 0.3, 0];
  const x = new Float64Array(rows * columns);
  const labels = new Uint8Array(rows);
  const logits = new Float64Array(rows);
  const heldOut = new Uint8Array(rows);
  for (let row = 0; row < rows; row++) {
    let z = -0.4;
    for (let j = 0; j < columns; j++) {
      const v = normal();
      x[row * columns + j] = v;
      z += (truth[j] ?? 0) * v;
    }
    labels[row] = uniform() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    logits[row] = (z - shift) / slope;
    heldOut[row] = row % 4 === 0 ? 1 : 0;
  }
  return { x, labels, rows, columns, logits, heldOut };
}

/**
 * What the three hand-written Newton solvers this module replaced answered on the fixtures
 * (captured from them before they were deleted). Theirs stopped on the objective's
 * improvement, which left gradients near 1e-5 on sums over thousands of rows; this one
 * stops on the step (gradients near 1e-14), so the figures agree to 1e-7, most to 1e-10.
 */
const BEFORE = {
  plain: [
    0.79049347417038429, -0.45977688526976818, 0.31886455060851998, 0.003246721631940432, -0.3597814655343376,
  ],
  plainRidge: [
    0.60719865700678233, -0.34890296815270772, 0.25244571768060625, 0.0056883927023203265,
    -0.3346863538923906,
  ],
  map: [1.5423710855582591, 0.48929155141653591],
  recalibration: { slope: 1.4651512376777531, intercept: 0.34213497550708583, check: 0.58205920329525207 },
  sites: [
    {
      method: "intercept-and-slope",
      intercept: 0.39079745325441811,
      slope: 1.3187070252747466,
      interval: [0.12641412763960158, 0.65518077886923465, 1.0206624257719703, 1.6167516247775229],
      lr: [12.493192601850581, 8.0461941105644428],
      shrinkage: 0.9047163701705021,
      after: 0.64084934210087907,
    },
    {
      method: "intercept",
      intercept: 0.57816068247327224,
      slope: 1.0,
      interval: [0.36585461280053633, 0.79046675214600814, 1.0, 1.0],
      lr: [28.991272579969007, 0.1504772791428195],
      shrinkage: 0.95326466791503106,
      after: 0.62746456484734925,
    },
    {
      method: "intercept",
      intercept: 0.40479398795508059,
      slope: 1.0,
      interval: [0.050378241947130142, 0.75920973396303104, 1.0, 1.0],
      lr: [6.8347715572533616, 1.1178426850433709],
      shrinkage: 0.86944888950280164,
      after: 0.60237407845595647,
    },
  ],
};

function expectClose(actual: readonly number[], expected: readonly number[], tolerance: number): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) =>
    expect(Math.abs(value - (expected[i] ?? Number.NaN)), `[${i}]`).toBeLessThan(tolerance),
  );
}

describe("fitLogistic", () => {
  const f = fitFixture(3000, 7, 1.6, 0.5);

  it("reaches the optimum: the penalized gradient vanishes", () => {
    const precision = [0.5, 0.5, 0.5, 0.5, 0];
    const input = (row: number, x: Float64Array): number => {
      x.set(f.x.subarray(row * 4, row * 4 + 4));
      x[4] = 1;
      return 0.25;
    };
    const { theta } = fitLogistic(
      { rows: f.rows, labels: f.labels, input },
      { start: new Float64Array(5), precision },
    );
    const gradient = theta.map((v, j) => (precision[j] ?? 0) * v);
    const x = new Float64Array(5);
    for (let row = 0; row < f.rows; row++) {
      let m = input(row, x);
      x.forEach((v, j) => (m += v * (theta[j] ?? 0)));
      const e = 1 / (1 + Math.exp(-m)) - (f.labels[row] ?? 0);
      x.forEach((v, j) => (gradient[j] = (gradient[j] ?? 0) + e * v));
    }
    for (const g of gradient) expect(Math.abs(g)).toBeLessThan(1e-9);
  });

  it("stops on a Hessian that cannot be inverted instead of answering NaN", () => {
    const { theta } = fitLogistic(
      { rows: 4, labels: [1, 0, 1, 0], input: (_row, x) => ((x[0] = 0), 0) },
      { start: [0.5] },
    );
    expect(Array.from(theta)).toEqual([0.5]);
  });
});

describe("the fits built on fitLogistic answer as the solvers they replaced", () => {
  const f = fitFixture(3000, 7, 1.6, 0.5);

  it("the plausibility screen's plain logistic", () => {
    const plain = fitPlainLogistic(f.x, f.labels, f.rows, f.columns);
    expectClose([...plain.weights, plain.bias], BEFORE.plain, 1e-9);
    const ridge = fitPlainLogistic(f.x, f.labels, f.rows, f.columns, 0.05);
    expectClose([...ridge.weights, ridge.bias], BEFORE.plainRidge, 1e-9);
  });

  it("the site recalibration", () => {
    const map = fitLogitMap(f.logits, f.labels, (i) => f.heldOut[i] !== 1, 20);
    expectClose([map.slope, map.intercept], BEFORE.map, 2e-7);
    const small = fitFixture(400, 11, 1.6, 0.5);
    const record = fitSiteRecalibration({
      logits: small.logits,
      labels: small.labels,
      heldOut: small.heldOut,
      sources: 5,
    });
    expect(record.applied).toBe(true);
    const { slope, intercept, check } = BEFORE.recalibration;
    expectClose(
      [record.slope, record.intercept, record.checkLogLossRecalibrated],
      [slope, intercept, check],
      1e-9,
    );
  });

  it("the per-site closed test, its intervals and shrinkage", () => {
    const fixtures = [fitFixture(400, 3, 1.6, 0.5), fitFixture(400, 5, 1, 0.6), fitFixture(120, 9, 1.3, 0.3)];
    fixtures.forEach((g, i) => {
      const site = fitSiteCalibration({
        site: `s${i}`,
        logits: g.logits,
        labels: g.labels,
        heldOut: g.heldOut,
        sources: 4,
      });
      const before = BEFORE.sites[i];
      expect(site.method).toBe(before?.method);
      expectClose(
        [
          site.intercept,
          site.slope,
          site.interceptInterval.low,
          site.interceptInterval.high,
          site.slopeInterval.low,
          site.slopeInterval.high,
          site.lrOverall,
          site.lrSlope,
          site.shrinkage,
          site.checkLogLossAfter,
        ],
        [
          before?.intercept ?? Number.NaN,
          before?.slope ?? Number.NaN,
          ...(before?.interval ?? []),
          ...(before?.lr ?? []),
          before?.shrinkage ?? Number.NaN,
          before?.after ?? Number.NaN,
        ],
        1e-7,
      );
    });
  });
});
