import { describe, expect, it } from 'vitest';
import { distributedGaussianTau, distributedLocalStddev, distributedNoiseMultiplier } from './ddgauss.js';

describe('distributed discrete Gaussian accounting (Kairouz, Liu, Steinke 2021)', () => {
  it('tau is 10 * sum_{k=1}^{n-1} exp(-2 pi^2 s^2 k/(k+1))', () => {
    const s = 0.6;
    let expected = 0;
    for (let k = 1; k < 5; k++) expected += Math.exp((-2 * Math.PI ** 2 * s * s * k) / (k + 1));
    expect(distributedGaussianTau(s, 5)).toBeCloseTo(10 * expected, 15);
    expect(distributedGaussianTau(s, 1)).toBe(0);
    expect(distributedGaussianTau(1000, 1000)).toBe(0); // underflows at realistic stddevs
  });

  it('the accounted multiplier is sigma at realistic stddevs and smaller when tau matters, never larger', () => {
    expect(distributedNoiseMultiplier({ noiseMultiplier: 0.927, bound: 2e6, minSummands: 170, maxSummands: 1000, dimension: 1e6 })).toBe(0.927);
    // A per-client stddev of about one lattice unit: the tau term lowers the multiplier.
    const bound = 2;
    const t = 3;
    const s = distributedLocalStddev(1, bound, t);
    const tau = distributedGaussianTau(s, 10);
    expect(tau).toBeGreaterThan(0);
    const m = distributedNoiseMultiplier({ noiseMultiplier: 1, bound, minSummands: t, maxSummands: 10, dimension: 100 });
    expect(m).toBeCloseTo(1 / (1 + 10 * tau), 12);
    expect(m).toBeLessThan(1);
    expect(() => distributedNoiseMultiplier({ noiseMultiplier: 0.1, bound: 1, minSummands: 4, maxSummands: 4, dimension: 1 })).toThrow(RangeError);
  });
});
