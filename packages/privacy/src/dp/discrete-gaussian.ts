// The exact discrete Gaussian sampler of Canonne, Kamath and Steinke 2020, "The
// Discrete Gaussian for Differential Privacy" (NeurIPS 2020):
//
//   Algorithm 1  Bernoulli(exp(-gamma)) for rational gamma >= 0, using only Bernoulli(p)
//                with rational p, i.e. comparisons of uniform integers.
//   Algorithm 2  discrete Laplace with integer scale t (geometric via Algorithm 1).
//   Algorithm 3  discrete Gaussian N_Z(0, sigma^2) for rational sigma^2 by rejection from
//                the discrete Laplace with t = floor(sigma) + 1: accept Y with
//                probability exp(-(|Y| - sigma^2/t)^2 / (2 sigma^2)).
//
// "Exact" means the output distribution is exactly N_Z(0, sigma^2) given uniform
// random bits: no floating-point value ever decides an outcome on its own. sigma^2 is
// a bigint rational (see rational.ts for how a float sigma becomes one).
//
// Speed. Algorithms 1-2 here only meet small integers (< 2^53) and run in exact
// Number arithmetic. The acceptance test of Algorithm 3 involves
// gamma = (|Y| d t - n)^2 / (2 n d t^2), which overflows 2^53 for sigma beyond a few
// thousand. Instead of always using bigint we evaluate gamma in float64 together with
// a rigorous error bound, and use the float only where the bound proves the outcome:
//   - floor(gamma) is taken from the float only when gamma is provably not within the
//     error bound of an integer (otherwise the whole test is redone in bigint);
//   - each Bernoulli(f / K) of Algorithm 1 draws a 53-bit prefix of a uniform real U
//     and decides U < f/K from the float bounds when the prefix interval lies clearly on
//     one side; in the rare (~1e-12) ambiguous case the SAME U is refined with further
//     random words and compared exactly against the bigint rational.
// Every decision therefore equals the one exact rational arithmetic would make.

import { cryptoRandom } from './random.js';
import { isqrt, varianceToRational, type Rational } from './rational.js';
import { checkInteger, checkNonNegative } from './validate.js';

/** Largest sigma accepted: samples must fit an Int32 with overwhelming margin. */
export const MAX_DISCRETE_SIGMA = 2 ** 28;

const TWO53 = 2 ** 53;
const R = cryptoRandom; // see random.ts: one binding read, then plain method calls

/** Bernoulli(1/k) as "a uniform integer in [0, k) is 0". */
function bernoulliInv(k: number): boolean {
  // k = 2 is the most frequent case (every Bernoulli(exp(-1)) that gets past k = 1):
  // one random bit instead of a 32-bit word.
  if (k === 2) return R.bit() === 0;
  return R.below(k) === 0;
}

/** Bernoulli(exp(-1)) (Algorithm 1 with gamma = 1). */
function bernoulliExp1(): boolean {
  let k = 1;
  while (bernoulliInv(k)) k++;
  return (k & 1) === 1;
}

/** Bernoulli(exp(-num/den)) for integers 0 <= num <= den, den * K < 2^53 (Algorithm 1). */
function bernoulliExpFrac(num: number, den: number): boolean {
  let k = 1;
  // A_k ~ Bernoulli(num / (den k)); stop at the first failure; output 1 iff k is odd.
  while (R.below(den * k) < num) {
    k++;
    if (den * k > TWO53) throw new RangeError('bernoulliExpFrac: denominator overflow'); // probability < 1/(2^53/den)!
  }
  return (k & 1) === 1;
}

/** Bernoulli(exp(-num/den)) for bigint num >= 0, den >= 1 (Algorithm 1, all exact). */
export function bernoulliExpBig(num: bigint, den: bigint): boolean {
  const g = num / den;
  const r = num - g * den;
  for (let i = 0n; i < g; i++) if (!bernoulliExp1()) return false;
  let k = 1n;
  while (R.bigBelow(den * k) < r) k++;
  return (k & 1n) === 1n;
}

/**
 * Decide U < r / (D k) exactly, where U is a uniform real whose first `53` bits are m.
 * Further bits of the same U are drawn until the dyadic interval containing U lies on
 * one side of the rational.
 */
export function uniformBelowRational(m: number, r: bigint, dk: bigint): boolean {
  let prefix = BigInt(m);
  let bits = 53n;
  for (;;) {
    const rhs = r << bits; // compare prefix/2^bits with r/dk
    if ((prefix + 1n) * dk <= rhs) return true;
    if (prefix * dk >= rhs) return false;
    prefix = (prefix << 32n) | BigInt(R.uint32());
    bits += 32n;
  }
}

/**
 * Constants of the acceptance test for variance n/d (exported for tests): the Laplace
 * scale t = floor(sqrt(n/d)) + 1 and the float64 values of sigma^2/t and 2 sigma^2.
 */
export function acceptanceConstants(v: Rational): { t: bigint; c: number; twoS2: number } {
  const t = isqrt(v.num / v.den) + 1n;
  const s2 = Number(v.num) / Number(v.den);
  return { t, c: s2 / Number(t), twoS2: 2 * s2 };
}

/** float64 gamma = (a - sigma^2/t)^2 / (2 sigma^2), the exponent of the acceptance probability. */
export function acceptanceExponentFloat(a: number, c: number, twoS2: number): number {
  const x = a - c;
  return (x * x) / twoS2;
}

/** The same exponent exactly: (a d t - n)^2 / (2 n d t^2). */
export function acceptanceExponentExact(a: number, v: Rational, t: bigint): Rational {
  const num = BigInt(a) * v.den * t - v.num;
  return { num: num * num, den: 2n * v.num * v.den * t * t };
}

/** The float error bound used by the sampler: |float - exact| <= this (with ~800x margin). */
export function acceptanceErrorBound(gamma: number): number {
  return 1e-12 * (1 + gamma);
}

/** Discrete Gaussian sampler for a fixed variance; construct once, sample many. */
export class DiscreteGaussianSampler {
  /** The exact variance parameter sigma^2 = num / den that is sampled. */
  readonly variance: Readonly<Rational>;
  readonly #t: number; // Laplace scale floor(sigma) + 1
  readonly #tBig: bigint;
  readonly #c: number; // float sigma^2 / t
  readonly #twoS2: number; // float 2 sigma^2
  readonly #zero: boolean;

  /**
   * @param sigma a float stddev (turned into a rational variance as documented in
   *   rational.ts) or an exact rational variance {num, den}.
   */
  constructor(sigma: number | Rational) {
    let v: Rational;
    if (typeof sigma === 'number') {
      checkNonNegative('sigma', sigma);
      if (sigma > MAX_DISCRETE_SIGMA) throw new RangeError(`sigma: must be <= 2^28, got ${sigma}`);
      v = varianceToRational(sigma);
    } else if (sigma !== null && typeof sigma === 'object' && typeof sigma.num === 'bigint' && typeof sigma.den === 'bigint') {
      if (sigma.num < 0n || sigma.den < 1n) throw new RangeError('sigma: rational variance needs num >= 0 and den >= 1');
      v = { num: sigma.num, den: sigma.den };
      // The float bounds of the fast path need num and den representable as doubles.
      if (!Number.isFinite(Number(v.num)) || !Number.isFinite(Number(v.den))) throw new RangeError('sigma: rational variance num and den must be below 2^1023');
      if (Number(v.num) / Number(v.den) > MAX_DISCRETE_SIGMA ** 2) throw new RangeError('sigma: variance must be <= 2^56');
    } else {
      throw new TypeError('sigma: expected a number or a {num: bigint, den: bigint} variance');
    }
    this.variance = Object.freeze(v);
    this.#zero = v.num === 0n;
    const k = acceptanceConstants(v);
    this.#tBig = k.t;
    this.#t = Number(k.t);
    this.#c = k.c;
    this.#twoS2 = k.twoS2;
  }

  /** Discrete Laplace with scale t (Algorithm 2 with s = 1). */
  #laplace(): number {
    const t = this.#t;
    for (;;) {
      const u = R.below(t);
      if (!bernoulliExpFrac(u, t)) continue;
      let v = 0;
      while (bernoulliExp1()) v++;
      const x = u + t * v;
      const negative = R.bit() === 1;
      if (negative && x === 0) continue;
      return negative ? -x : x;
    }
  }

  /** Exact acceptance test in bigint (used when the float bound cannot decide floor). */
  #acceptExact(a: number): boolean {
    const g = acceptanceExponentExact(a, this.variance, this.#tBig);
    return bernoulliExpBig(g.num, g.den);
  }

  /** Accept |Y| = a with probability exp(-(a - sigma^2/t)^2 / (2 sigma^2)). */
  #accept(a: number): boolean {
    const gamma = acceptanceExponentFloat(a, this.#c, this.#twoS2);
    // |gamma - exact| <= ~1.2e-15 (1 + gamma) from <= 8 roundings of relative 2^-53
    // (n, d to Number, two divisions, subtraction, square, product); the bound used
    // leaves a safety factor of ~800 (and the tests check it against bigint).
    const err = acceptanceErrorBound(gamma);
    const g = Math.floor(gamma);
    if (gamma - g <= err || g + 1 - gamma <= err) return this.#acceptExact(a);
    for (let i = 0; i < g; i++) if (!bernoulliExp1()) return false;
    const f = gamma - g; // exact fractional part is within err of f, and in (0, 1)
    let k = 1;
    for (;;) {
      // A_k ~ Bernoulli(f_exact / k) decided by a uniform U in [0, 1).
      const m = R.uint53();
      const lo = ((f - err) / k) * (1 - 2 ** -50);
      const hi = ((f + err) / k) * (1 + 2 ** -50);
      let aK: boolean;
      if ((m + 1) / TWO53 <= lo) aK = true;
      else if (m / TWO53 >= hi) aK = false;
      else aK = this.#resolve(a, g, k, m);
      if (!aK) break;
      k++;
    }
    return (k & 1) === 1;
  }

  /** Exact resolution of an ambiguous Bernoulli(f/k) with the same uniform prefix m. */
  #resolve(a: number, g: number, k: number, m: number): boolean {
    const { num, den } = acceptanceExponentExact(a, this.variance, this.#tBig);
    const r = num - BigInt(g) * den;
    if (r < 0n || r >= den) throw new Error('discrete Gaussian: float bound violated (bug)');
    return uniformBelowRational(m, r, den * BigInt(k));
  }

  /** One sample from N_Z(0, sigma^2). */
  sample(): number {
    if (this.#zero) return 0;
    for (;;) {
      const y = this.#laplace();
      if (this.#accept(Math.abs(y))) return y;
    }
  }

  /** Fill `out` with independent samples. */
  fill(out: Int32Array): Int32Array {
    if (!(out instanceof Int32Array)) throw new TypeError('out: expected an Int32Array');
    for (let i = 0; i < out.length; i++) {
      const y = this.sample();
      // Never wrap silently (|y| > 2^31 would need ~8 sigma at sigma = 2^28: ~1e-14).
      if (y > 2147483647 || y < -2147483648) throw new RangeError('discrete Gaussian sample exceeds the Int32 range');
      out[i] = y;
    }
    return out;
  }
}

/** One exact sample from the discrete Gaussian N_Z(0, sigma^2). */
export function sampleDiscreteGaussian(sigma: number): number {
  return new DiscreteGaussianSampler(sigma).sample();
}

/** `length` independent exact samples from N_Z(0, sigma^2) (sigma <= 2^28). */
export function sampleDiscreteGaussianVector(sigma: number, length: number): Int32Array {
  checkInteger('length', length, 0, 2 ** 31 - 1);
  return new DiscreteGaussianSampler(sigma).fill(new Int32Array(length));
}
