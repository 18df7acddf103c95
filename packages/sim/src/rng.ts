/**
 * Seeded randomness for simulations: data splits, client sampling, injected faults.
 *
 * NOT for privacy code. Masks, noise, keys and anything else that must be unpredictable
 * use `crypto.getRandomValues` / node:crypto (see DESIGN.md section 5). This generator is
 * xoroshiro128+ (via pure-rand): fast, reproducible, and completely predictable.
 *
 * Streams: `createRng(seed)` makes a root stream; `rng.fork(label)` derives an independent
 * child stream from the root seed and the label path only, so a child's values do not depend
 * on how many numbers were drawn from the parent (adding a draw in one place of a simulation
 * does not shift every other random choice).
 */
import { xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

const TWO_POW_32 = 0x1_0000_0000;

/** Bias-free 32-bit finaliser (Chris Wellons' lowbias32). */
function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x21f0aaad);
  h ^= h >>> 15;
  h = Math.imul(h, 0x735a2d97);
  h ^= h >>> 15;
  return h >>> 0;
}

const textEncoder = new TextEncoder();

/** Absorbs words into a 128-bit key (four 32-bit lanes), cyrb128-style, then finalises. */
function deriveKey(parent: readonly number[], words: readonly number[]): number[] {
  let h1 = (parent[0] ?? 0) ^ 0x9e3779b9;
  let h2 = (parent[1] ?? 0) ^ 0x85ebca6b;
  let h3 = (parent[2] ?? 0) ^ 0xc2b2ae35;
  let h4 = (parent[3] ?? 0) ^ 0x27d4eb2f;
  for (const w of words) {
    h1 = mix32(h2 ^ Math.imul(h1 ^ w, 0x9e3779b1));
    h2 = mix32(h3 ^ Math.imul(h2 ^ w, 0x85ebca77));
    h3 = mix32(h4 ^ Math.imul(h3 ^ w, 0xc2b2ae3d));
    h4 = mix32(h1 ^ Math.imul(h4 ^ w, 0x27d4eb2f));
  }
  // Final avalanche across lanes.
  for (let round = 0; round < 2; round++) {
    h1 = mix32(h1 ^ h4);
    h2 = mix32(h2 ^ h1);
    h3 = mix32(h3 ^ h2);
    h4 = mix32(h4 ^ h3);
  }
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

function labelWords(label: string | number): number[] {
  if (typeof label === 'number') {
    // Tag numbers so fork(1) and fork('1') differ; split into hi/lo words.
    const lo = label >>> 0;
    const hi = Math.floor(label / TWO_POW_32) >>> 0;
    return [0x6e756d00, lo, hi, label < 0 ? 1 : 0];
  }
  const bytes = textEncoder.encode(label);
  const words = [0x73747200, bytes.length];
  for (let i = 0; i < bytes.length; i += 4) {
    words.push((bytes[i] ?? 0) | ((bytes[i + 1] ?? 0) << 8) | ((bytes[i + 2] ?? 0) << 16) | ((bytes[i + 3] ?? 0) << 24));
  }
  return words;
}

/** A seeded random stream. Mutable: every call advances it. */
export class Rng {
  readonly #key: readonly number[];
  readonly #gen: JumpableRandomGenerator;
  #spareNormal: number | undefined;

  private constructor(key: readonly number[]) {
    this.#key = key;
    const s = key.slice();
    if ((s[0]! | s[1]! | s[2]! | s[3]!) === 0) s[0] = 1; // xoroshiro must not start at all-zero
    // pure-rand's state words are signed int32
    this.#gen = xoroshiro128plusFromState(s.map((w) => w | 0));
    for (let i = 0; i < 8; i++) this.#gen.next(); // warm-up
  }

  /** Root stream for a seed (any safe integer). */
  static fromSeed(seed: number): Rng {
    if (typeof seed !== 'number') throw new TypeError(`seed must be a number; got ${typeof seed}`);
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer; got ${seed}`);
    return new Rng(deriveKey([0, 0, 0, 0], labelWords(seed)));
  }

  /**
   * An independent stream derived from this stream's seed and `label` (not from its current
   * position): `createRng(7).fork('data')` always yields the same stream.
   */
  fork(label: string | number): Rng {
    if (typeof label !== 'string' && typeof label !== 'number') {
      throw new TypeError(`label must be a string or a number; got ${typeof label}`);
    }
    if (typeof label === 'number' && !Number.isSafeInteger(label)) {
      throw new RangeError(`label must be a safe integer when it is a number; got ${label}`);
    }
    return new Rng(deriveKey(this.#key, labelWords(label)));
  }

  /** Uniform 32-bit unsigned integer. */
  uint32(): number {
    return this.#gen.next() >>> 0;
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.#gen.next() >>> 5; // 27 bits
    const lo = this.#gen.next() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform float in (0, 1): never exactly 0, safe to take a logarithm of. */
  floatOpen(): number {
    let u = this.float();
    while (u === 0) u = this.float();
    return u;
  }

  /** Uniform integer in [min, max], both inclusive, without modulo bias. */
  int(min: number, max: number): number {
    if (typeof min !== 'number' || typeof max !== 'number') throw new TypeError('min and max must be numbers');
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max)) {
      throw new RangeError(`min and max must be safe integers; got ${min}, ${max}`);
    }
    if (max < min) throw new RangeError(`max must be >= min; got min=${min}, max=${max}`);
    return min + this.#below(max - min + 1);
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    if (typeof n !== 'number') throw new TypeError(`n must be a number; got ${typeof n}`);
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`n must be a positive safe integer; got ${n}`);
    return this.#below(n);
  }

  #below(n: number): number {
    if (n <= TWO_POW_32) {
      // Rejection sampling on 32 bits.
      const limit = TWO_POW_32 - (TWO_POW_32 % n);
      for (;;) {
        const x = this.uint32();
        if (x < limit) return x % n;
      }
    }
    // Ranges above 2^32: rejection on 53 bits.
    const limit53 = 9007199254740992 - (9007199254740992 % n);
    for (;;) {
      const x = this.float() * 9007199254740992;
      if (x < limit53) return x % n;
    }
  }

  /** true with probability p. */
  chance(p: number): boolean {
    if (typeof p !== 'number') throw new TypeError(`p must be a number; got ${typeof p}`);
    if (!(p >= 0 && p <= 1)) throw new RangeError(`p must be in [0, 1]; got ${p}`);
    return this.float() < p;
  }

  /** Shuffles in place (Fisher-Yates) and returns the same array. */
  shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T {
    if (array === null || typeof array !== 'object' || typeof array.length !== 'number') {
      throw new TypeError('array must be an array or a typed array');
    }
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.#below(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Uint32Array {
    if (typeof n !== 'number') throw new TypeError(`n must be a number; got ${typeof n}`);
    if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`n must be an integer in [0, 2^32); got ${n}`);
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    return this.shuffle(out);
  }

  /** k distinct indices from 0..n-1, uniformly, in random order. */
  sample(n: number, k: number): Uint32Array {
    if (typeof n !== 'number' || typeof k !== 'number') throw new TypeError('n and k must be numbers');
    if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`n must be an integer in [0, 2^32); got ${n}`);
    if (!Number.isSafeInteger(k) || k < 0 || k > n) throw new RangeError(`k must be an integer in [0, n=${n}]; got ${k}`);
    if (k * 4 >= n) return this.permutation(n).slice(0, k);
    // Sparse Fisher-Yates: only the touched positions are stored.
    const swapped = new Map<number, number>();
    const out = new Uint32Array(k);
    for (let i = 0; i < k; i++) {
      const j = i + this.#below(n - i);
      const vj = swapped.get(j) ?? j;
      const vi = swapped.get(i) ?? i;
      out[i] = vj;
      swapped.set(j, vi);
    }
    return out;
  }

  /** Standard normal N(0, 1) (Marsaglia polar method). */
  normal(): number {
    if (this.#spareNormal !== undefined) {
      const s = this.#spareNormal;
      this.#spareNormal = undefined;
      return s;
    }
    for (;;) {
      const u = 2 * this.float() - 1;
      const v = 2 * this.float() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const m = Math.sqrt((-2 * Math.log(s)) / s);
        this.#spareNormal = v * m;
        return u * m;
      }
    }
  }

  /**
   * log of a Gamma(shape, 1) variate (Marsaglia-Tsang 2000; shape < 1 via the
   * Gamma(shape + 1) * U^(1/shape) boost, kept in log space so tiny shapes do not underflow).
   */
  logGamma(shape: number): number {
    if (typeof shape !== 'number') throw new TypeError(`shape must be a number; got ${typeof shape}`);
    if (!(shape > 0) || !Number.isFinite(shape)) throw new RangeError(`shape must be a finite number > 0; got ${shape}`);
    if (shape < 1) {
      return this.#logGammaAtLeastOne(shape + 1) + Math.log(this.floatOpen()) / shape;
    }
    return this.#logGammaAtLeastOne(shape);
  }

  #logGammaAtLeastOne(shape: number): number {
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.floatOpen();
      const x2 = x * x;
      if (u < 1 - 0.0331 * x2 * x2 || Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) {
        return Math.log(d) + Math.log(v);
      }
    }
  }

  /** Gamma(shape, scale) variate; mean shape*scale. */
  gamma(shape: number, scale = 1): number {
    if (typeof scale !== 'number') throw new TypeError(`scale must be a number; got ${typeof scale}`);
    if (!(scale > 0) || !Number.isFinite(scale)) throw new RangeError(`scale must be a finite number > 0; got ${scale}`);
    return Math.exp(this.logGamma(shape)) * scale;
  }

  /**
   * A Dirichlet sample. `alpha` is either the vector of concentrations, or one concentration
   * repeated `k` times (symmetric Dirichlet). Sums to 1; robust for very small alphas.
   */
  dirichlet(alpha: number | ArrayLike<number>, k?: number): Float64Array {
    let alphas: ArrayLike<number>;
    if (typeof alpha === 'number') {
      if (typeof k !== 'number') throw new TypeError('k must be a number when alpha is a single number');
      if (!Number.isSafeInteger(k) || k < 1) throw new RangeError(`k must be a positive integer; got ${k}`);
      if (!(alpha > 0) || !Number.isFinite(alpha)) throw new RangeError(`alpha must be a finite number > 0; got ${alpha}`);
      alphas = new Float64Array(k).fill(alpha);
    } else if (alpha !== null && typeof alpha === 'object' && typeof alpha.length === 'number') {
      if (alpha.length < 1) throw new RangeError('alpha must have at least one element');
      for (let i = 0; i < alpha.length; i++) {
        const a = alpha[i]!;
        if (typeof a !== 'number') throw new TypeError(`alpha[${i}] must be a number`);
        if (!(a > 0) || !Number.isFinite(a)) throw new RangeError(`alpha[${i}] must be a finite number > 0; got ${a}`);
      }
      alphas = alpha;
    } else {
      throw new TypeError('alpha must be a number or an array of numbers');
    }
    const n = alphas.length;
    const logs = new Float64Array(n);
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      const l = this.logGamma(alphas[i]!);
      logs[i] = l;
      if (l > max) max = l;
    }
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const e = Math.exp(logs[i]! - max);
      logs[i] = e;
      sum += e;
    }
    for (let i = 0; i < n; i++) logs[i] = logs[i]! / sum;
    return logs;
  }
}

/** Root random stream for `seed` (any safe integer). */
export function createRng(seed: number): Rng {
  return Rng.fromSeed(seed);
}
