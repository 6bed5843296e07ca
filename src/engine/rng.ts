/**
 * Deterministic, seedable pseudo-random numbers for parameter init, dropout masks and data order.
 *
 * Generator: xoshiro128** 1.1 (Blackman & Vigna, "Scrambled linear pseudorandom number generators",
 * 2018/2021), 128 bits of state in four uint32 words, period 2^128 - 1. Seeds are expanded into the
 * state with SplitMix32 so that nearby seeds give unrelated streams and the state is never all zero.
 *
 * The whole state is four numbers, so it serializes to JSON exactly (checkpoint metadata) and a
 * resumed run continues the same stream. Same seed => same init and same data order on every machine:
 * everything here is integer arithmetic or IEEE double math with fixed operation order.
 */

/** Serializable generator state: four uint32 words. */
export interface RngState {
  readonly algorithm: 'xoshiro128**';
  readonly s: readonly [number, number, number, number];
}

/** SplitMix32 step (the 32-bit variant of Steele et al.'s SplitMix): returns [nextSeed, output]. */
function splitMix32(x: number): [number, number] {
  const next = (x + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  z = (z ^ (z >>> 16)) >>> 0;
  return [next, z];
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Hashes a string label into a uint32 (FNV-1a), used to derive named sub-streams. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** xoshiro128** generator with serializable state. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /**
   * @param seed any integer in [0, 2^53); the low and high 32-bit halves both feed SplitMix32,
   *             so seeds above 2^32 are distinct from their low halves.
   */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new Error(`Rng seed must be a non-negative safe integer, got ${String(seed)}`);
    }
    let x = (seed >>> 0) ^ Math.imul(Math.floor(seed / 0x100000000) >>> 0, 0x9e3779b1);
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [next, out] = splitMix32(x >>> 0);
      x = next;
      words.push(out);
    }
    [this.s0, this.s1, this.s2, this.s3] = words as [number, number, number, number];
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** Restores a generator from {@link Rng.state}; validates the shape so a corrupt checkpoint is a clear error. */
  static fromState(state: RngState): Rng {
    const s = (state as { s?: unknown }).s;
    if (state.algorithm !== 'xoshiro128**' || !Array.isArray(s) || s.length !== 4 ||
        !s.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) {
      throw new Error(`invalid RNG state ${JSON.stringify(state)}: expected {algorithm:'xoshiro128**', s:[4 uint32]}`);
    }
    if ((s[0] | s[1] | s[2] | s[3]) === 0) throw new Error('invalid RNG state: all-zero xoshiro state');
    const r = new Rng(0);
    [r.s0, r.s1, r.s2, r.s3] = s as [number, number, number, number];
    return r;
  }

  /** The current state; feeding it to {@link Rng.fromState} continues the same stream. */
  state(): RngState {
    return { algorithm: 'xoshiro128**', s: [this.s0, this.s1, this.s2, this.s3] };
  }

  /** An independent generator for a named purpose (e.g. 'init', 'data'), derived from this one's state without advancing it. */
  derive(label: string): Rng {
    const h = hashLabel(label);
    const r = new Rng(0);
    let x = (this.s0 ^ h) >>> 0;
    const w: number[] = [];
    for (const base of [this.s1, this.s2, this.s3, h]) {
      const [next, out] = splitMix32((x ^ base) >>> 0);
      x = next;
      w.push(out);
    }
    [r.s0, r.s1, r.s2, r.s3] = w as [number, number, number, number];
    if ((r.s0 | r.s1 | r.s2 | r.s3) === 0) r.s0 = 1;
    return r;
  }

  /** Next uniformly distributed uint32 (xoshiro128** output function: rotl(s1 * 5, 7) * 9). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n) without modulo bias (rejection sampling), n <= 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x100000000) throw new Error(`Rng.int(n) needs an integer 1..2^32, got ${n}`);
    const limit = 0x100000000 - (0x100000000 % n); // largest multiple of n that fits
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal sample by the Box-Muller transform (no cached second value, so state stays 4 words). */
  normal(): number {
    let u1 = this.uniform();
    while (u1 === 0) u1 = this.uniform();
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Fills `out` with U(lo, hi) samples. */
  fillUniform<T extends Float32Array | Float64Array>(out: T, lo: number, hi: number): T {
    for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * this.uniform();
    return out;
  }

  /**
   * Fills `out` with N(mean, std^2) samples. Box-Muller on pairs, using both the cosine and the sine
   * value, with 32-bit uniforms (u1 = (x + 1) / 2^32 is never 0): 2 draws per 2 samples, fast enough
   * for tens of millions of weights.
   */
  fillNormal<T extends Float32Array | Float64Array>(out: T, mean: number, std: number): T {
    const n = out.length;
    for (let i = 0; i < n; i += 2) {
      const u1 = (this.nextUint32() + 1) / 4294967296;
      const u2 = this.nextUint32() / 4294967296;
      const r = std * Math.sqrt(-2 * Math.log(u1));
      const a = 2 * Math.PI * u2;
      out[i] = mean + r * Math.cos(a);
      if (i + 1 < n) out[i + 1] = mean + r * Math.sin(a);
    }
    return out;
  }

  /**
   * Fills `out` with N(mean, std^2) samples truncated to [mean - bound*std, mean + bound*std] by
   * resampling (as torch.nn.init.trunc_normal_ with a=-bound*std, b=bound*std).
   */
  fillTruncNormal<T extends Float32Array | Float64Array>(out: T, mean: number, std: number, bound = 2): T {
    for (let i = 0; i < out.length; i++) {
      let z = this.normal();
      while (Math.abs(z) > bound) z = this.normal();
      out[i] = mean + std * z;
    }
    return out;
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i] as T;
      items[i] = items[j] as T;
      items[j] = t;
    }
    return items;
  }

  /** A random permutation of 0..n-1 (data order for an epoch). */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }
}
