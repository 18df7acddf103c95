import { describe, expect, it } from 'vitest';
import { DiscreteGaussianSampler } from './discrete-gaussian.js';

// A higher-powered check than the unit test: 2e6 samples per sigma and a chi-square
// test against the exact pmf, pooling tail cells so every expected count is >= 20.
function chiSquare(sampler: DiscreteGaussianSampler, s2: number, n: number): { stat: number; dof: number } {
  const R = Math.ceil(20 * Math.sqrt(s2)) + 20;
  const p = new Float64Array(2 * R + 1);
  let z = 0;
  for (let x = -R; x <= R; x++) z += p[x + R] = Math.exp(-(x * x) / (2 * s2));
  const counts = new Float64Array(p.length);
  const buf = new Int32Array(100_000);
  for (let done = 0; done < n; done += buf.length) {
    sampler.fill(buf);
    for (const x of buf) counts[x + R]! += 1;
  }
  let stat = 0;
  let cells = 0;
  let accE = 0;
  let accO = 0;
  for (let i = 0; i < p.length; i++) {
    accE += (p[i]! / z) * n;
    accO += counts[i]!;
    if (accE >= 20 || i === p.length - 1) {
      stat += (accO - accE) ** 2 / accE;
      cells++;
      accE = 0;
      accO = 0;
    }
  }
  return { stat, dof: cells - 1 };
}

describe('discrete Gaussian, high-powered goodness of fit', () => {
  for (const [label, v, s2] of [
    ['0.5', 0.5, 0.25],
    ['3', 3, 9],
    ['40', 40, 1600],
    ['sqrt(2) (bigint path)', { num: 2n, den: 1n }, 2],
  ] as const) {
    it(`chi-square vs exact pmf, sigma = ${label}`, () => {
      const { stat, dof } = chiSquare(new DiscreteGaussianSampler(v), s2, 2_000_000);
      // Wilson-Hilferty: chi2_dof upper quantile at z = 4.26 (p ~ 1e-5).
      const crit = dof * (1 - 2 / (9 * dof) + 4.26 * Math.sqrt(2 / (9 * dof))) ** 3;
      expect(stat).toBeLessThan(crit);
    });
  }
});
