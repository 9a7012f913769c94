/**
 * A small seeded pseudo-random number generator (sfc32, seeded through splitmix32).
 *
 * Math.random cannot be seeded, and synthetic data, shuffles and benchmarks must be
 * reproducible from a seed. sfc32 is fast in JavaScript (32-bit integer arithmetic only),
 * passes PractRand, and gives the same stream on every platform.
 */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Any finite number is a valid seed; equal seeds give equal streams. */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`PRNG seed must be a finite number, got ${seed}`);
    // splitmix32 spreads nearby seeds (1, 2, 3, ...) into unrelated states.
    let s = (Math.trunc(seed) ^ Math.trunc(seed / 0x1_0000_0000)) >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    // Discard the first outputs: sfc32 mixes its state in over a few rounds.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** Uniform integer in [0, 2^32). */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in the open interval (0, 1): never 0, so log() of it is always finite. */
  nextFloat(): number {
    return (this.nextUint32() + 0.5) / 0x1_0000_0000;
  }

  /**
   * Two independent standard normal values (Box-Muller), written to `out[offset]` and
   * `out[offset + 1]`. Always consumes exactly two uniforms, so a generator that draws a
   * fixed number of values per row stays aligned: row i is the same for every row count.
   */
  fillNormalPair(out: Float64Array, offset: number): void {
    const r = Math.sqrt(-2 * Math.log(this.nextFloat()));
    const theta = 2 * Math.PI * this.nextFloat();
    out[offset] = r * Math.cos(theta);
    out[offset + 1] = r * Math.sin(theta);
  }
}
