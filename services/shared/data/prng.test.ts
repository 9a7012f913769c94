import { describe, expect, it } from "vitest";
import { Prng } from "./prng.js";

describe("Prng", () => {
  it("repeats its stream for a seed, and nearby seeds give unrelated streams", () => {
    const draw = (seed: number): number[] => {
      const prng = new Prng(seed);
      return Array.from({ length: 8 }, () => prng.nextUint32());
    };
    expect(draw(1)).toEqual(draw(1));
    expect(draw(1)).not.toEqual(draw(2));
    const same = draw(1).filter((v, i) => v === draw(2)[i]);
    expect(same).toEqual([]);
  });

  it("draws uniforms in (0, 1) and standard normals", () => {
    const prng = new Prng(123);
    const n = 200_000;
    const normals = new Float64Array(n);
    let uniformSum = 0;
    for (let i = 0; i < n; i++) {
      const u = prng.nextFloat();
      if (!(u > 0 && u < 1)) expect.fail(`uniform ${u} outside (0, 1)`);
      uniformSum += u;
    }
    for (let i = 0; i < n; i += 2) prng.fillNormalPair(normals, i);
    const mean = normals.reduce((s, v) => s + v, 0) / n;
    const variance = normals.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
    expect(uniformSum / n).toBeCloseTo(0.5, 2);
    expect(mean).toBeCloseTo(0, 1);
    expect(variance).toBeCloseTo(1, 1);
    expect(normals.filter((v) => Math.abs(v) > 1.96).length / n).toBeCloseTo(0.05, 2);
  });

  it("rejects a seed that is not a finite number", () => {
    expect(() => new Prng(Number.NaN)).toThrow(/finite number/);
  });
});
