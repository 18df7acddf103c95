import { describe, expect, it } from 'vitest';
import {
  acceptanceConstants,
  acceptanceErrorBound,
  acceptanceExponentExact,
  acceptanceExponentFloat,
  bernoulliExpBig,
  DiscreteGaussianSampler,
  sampleDiscreteGaussian,
  sampleDiscreteGaussianVector,
  uniformBelowRational,
} from './discrete-gaussian.js';
import { floatToDyadic, simplestRationalBetween, varianceToRational, type Rational } from './rational.js';

/** The exact pmf of N_Z(0, s2) on [-R, R], normalised (the tail beyond R is < 1e-80). */
function pmf(s2: number): { lo: number; p: Float64Array } {
  const R = Math.ceil(20 * Math.sqrt(s2)) + 20;
  const p = new Float64Array(2 * R + 1);
  let z = 0;
  for (let x = -R; x <= R; x++) z += p[x + R] = Math.exp(-(x * x) / (2 * s2));
  for (let i = 0; i < p.length; i++) p[i] = p[i]! / z;
  return { lo: -R, p };
}

/** Kolmogorov-Smirnov distance between the samples and the pmf (evaluated at integers). */
function ksDistance(samples: Int32Array, lo: number, p: Float64Array): number {
  const counts = new Float64Array(p.length);
  for (const x of samples) counts[x - lo]! += 1;
  let F = 0;
  let Fe = 0;
  let d = 0;
  for (let i = 0; i < p.length; i++) {
    F += p[i]!;
    Fe += counts[i]! / samples.length;
    d = Math.max(d, Math.abs(F - Fe));
  }
  return d;
}

function checkDistribution(sampler: DiscreteGaussianSampler, s2: number, n: number): void {
  const samples = sampler.fill(new Int32Array(n));
  const { lo, p } = pmf(s2);
  let mean = 0;
  let variance = 0;
  for (let i = 0; i < p.length; i++) {
    const x = lo + i;
    variance += p[i]! * x * x; // mean is 0 by symmetry
  }
  let m1 = 0;
  let m2 = 0;
  for (const x of samples) {
    m1 += x;
    m2 += x * x;
  }
  mean = m1 / n;
  const sampleVar = m2 / n - mean * mean;
  // Tolerances of ~5 standard errors: the tests fail by chance with probability < 1e-5.
  expect(Math.abs(mean)).toBeLessThan(5 * Math.sqrt(variance / n));
  expect(Math.abs(sampleVar - variance)).toBeLessThan(5 * Math.sqrt(2 / n) * variance * 1.1);
  // KS critical value 1.95 / sqrt(n) is alpha = 0.001 for continuous laws and
  // conservative (rejects less often) for discrete ones.
  expect(ksDistance(samples, lo, p)).toBeLessThan(1.95 / Math.sqrt(n));
}

describe('discrete Gaussian (Canonne-Kamath-Steinke 2020)', () => {
  for (const sigma of [0.5, 3, 40]) {
    it(`matches the exact pmf: mean, variance, KS (sigma = ${sigma})`, () => {
      checkDistribution(new DiscreteGaussianSampler(sigma), sigma * sigma, 40_000);
    });
  }

  it('matches the pmf for sigma^2 = 2, where the acceptance exponent hits integers (bigint path)', () => {
    checkDistribution(new DiscreteGaussianSampler({ num: 2n, den: 1n }), 2, 40_000);
  });

  it('large sigma keeps the right scale', () => {
    const s = 123_456.7;
    const v = sampleDiscreteGaussianVector(s, 20_000);
    let m2 = 0;
    for (const x of v) m2 += x * x;
    expect(Math.abs(m2 / v.length / (s * s) - 1)).toBeLessThan(5 * Math.sqrt(2 / v.length));
  });

  it('sigma = 0 gives zeros; bad input throws naming the parameter', () => {
    expect(sampleDiscreteGaussian(0)).toBe(0);
    expect(Array.from(sampleDiscreteGaussianVector(0, 5))).toEqual([0, 0, 0, 0, 0]);
    expect(() => sampleDiscreteGaussianVector(-1, 5)).toThrow(/sigma/);
    expect(() => sampleDiscreteGaussianVector(Number.NaN, 5)).toThrow(RangeError);
    expect(() => sampleDiscreteGaussianVector(2 ** 29, 5)).toThrow(/sigma/);
    expect(() => sampleDiscreteGaussianVector('3' as unknown as number, 5)).toThrow(TypeError);
    expect(() => sampleDiscreteGaussianVector(3, -1)).toThrow(/length/);
  });

  it('the float acceptance exponent is within its error bound (checked in bigint, 100x margin)', () => {
    for (const sigma of [0.5, 1.3, 3, 40, 1234.567, 3e5, 2 ** 28 * 0.999]) {
      const v = varianceToRational(sigma);
      const { t, c, twoS2 } = acceptanceConstants(v);
      const as = [0, 1, 2, Math.floor(c), Math.ceil(c), Math.round(c) + 1];
      for (let i = 0; i < 200; i++) as.push(Math.floor(((i * 7919) % 1000) / 100 * Math.max(sigma, 1)));
      for (const a of as) {
        const gf = acceptanceExponentFloat(a, c, twoS2);
        const ex = acceptanceExponentExact(a, v, t);
        const f = floatToDyadic(gf);
        const b = floatToDyadic(acceptanceErrorBound(gf) / 100);
        // |f - ex| <= b  <=>  |f.num * ex.den - ex.num * f.den| * b.den <= b.num * f.den * ex.den
        let diff = f.num * ex.den - ex.num * f.den;
        if (diff < 0n) diff = -diff;
        expect(diff * b.den <= b.num * f.den * ex.den, `sigma ${sigma}, a ${a}`).toBe(true);
      }
    }
  });

  it('resolves an ambiguous uniform prefix exactly with more bits of the same U', () => {
    // r/dk = 1/3; prefix m = floor(2^53 / 3) straddles 1/3 and P(U < 1/3 | prefix) = 2/3.
    const m = Number((2n ** 53n - 2n) / 3n);
    let yes = 0;
    const n = 3000;
    for (let i = 0; i < n; i++) if (uniformBelowRational(m, 1n, 3n)) yes++;
    expect(Math.abs(yes / n - 2 / 3)).toBeLessThan(0.05);
    expect(uniformBelowRational(0, 1n, 3n)).toBe(true);
    expect(uniformBelowRational(2 ** 53 - 1, 1n, 3n)).toBe(false);
  });

  it('bernoulliExpBig has mean exp(-gamma)', () => {
    const n = 20_000;
    for (const [num, den] of [
      [1n, 2n],
      [7n, 3n],
    ] as const) {
      let k = 0;
      for (let i = 0; i < n; i++) if (bernoulliExpBig(num, den)) k++;
      const p = Math.exp(-Number(num) / Number(den));
      expect(Math.abs(k / n - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
    }
  });
});

describe('float sigma -> rational variance', () => {
  it('keeps nice values exact', () => {
    expect(varianceToRational(3)).toEqual({ num: 9n, den: 1n });
    expect(varianceToRational(0.5)).toEqual({ num: 1n, den: 4n });
    expect(varianceToRational(40)).toEqual({ num: 1600n, den: 1n });
    expect(varianceToRational(0)).toEqual({ num: 0n, den: 1n });
  });

  it('is never below sigma^2 and at most 2^-32 above it', () => {
    for (const s of [1.3, 0.1, 7.77, 1234.567, 1e-3, 2 ** 27 + 0.1]) {
      const r: Rational = varianceToRational(s);
      const e = floatToDyadic(s);
      const exactNum = e.num * e.num;
      const exactDen = e.den * e.den;
      expect(r.num * exactDen >= exactNum * r.den).toBe(true);
      // r <= exact (1 + 2^-32)  <=>  r.num * exactDen * 2^32 <= exactNum * (2^32 + 1) * r.den
      expect(r.num * exactDen * 2n ** 32n <= exactNum * (2n ** 32n + 1n) * r.den).toBe(true);
    }
  });

  it('simplestRationalBetween finds the smallest denominator', () => {
    expect(simplestRationalBetween({ num: 31n, den: 100n }, { num: 32n, den: 100n })).toEqual({ num: 5n, den: 16n });
    expect(simplestRationalBetween({ num: 3n, den: 2n }, { num: 5n, den: 2n })).toEqual({ num: 2n, den: 1n });
  });
});
