import { describe, expect, it } from 'vitest';
import { computeEpsilon, RdpAccountant } from './accountant.js';
import { rdpPoissonSubsampledGeneral, rdpSubsampledDistributedGaussian, rdpSubsampledGaussian } from './rdp.js';

// The general Poisson-subsampling bound (Zhu and Wang 2019, Theorem 6), used for the distributed
// discrete Gaussian, whose output is a sum of discrete Gaussians and not one Gaussian.
describe('rdpPoissonSubsampledGeneral', () => {
  const gaussian = (sigma: number) => (a: number) => a / (2 * sigma * sigma);

  it('at order 2 equals the subsampled Gaussian exactly: 1 - q^2 + q^2 e^(1/sigma^2)', () => {
    for (const [q, sigma] of [[0.01, 1], [0.1, 0.8], [0.5, 2]] as const) {
      const byHand = Math.log(1 - q * q + q * q * Math.exp(1 / (sigma * sigma)));
      expect(rdpPoissonSubsampledGeneral(q, gaussian(sigma), 2)).toBeCloseTo(byHand, 12);
      expect(rdpSubsampledGaussian(q, sigma, 2)).toBeCloseTo(byHand, 12);
    }
  });

  it('is an upper bound of the Gaussian-specific bound at every integer order, and never above the unsampled curve', () => {
    for (const q of [0.001, 0.01, 0.1, 0.5]) {
      for (const sigma of [0.7, 1, 2, 5]) {
        for (const a of [3, 4, 8, 16, 32, 64, 256]) {
          const general = rdpSubsampledDistributedGaussian(q, sigma, a);
          expect(general).toBeGreaterThanOrEqual(rdpSubsampledGaussian(q, sigma, a) * (1 - 1e-12));
          expect(general).toBeLessThanOrEqual(a / (2 * sigma * sigma) * (1 + 1e-12));
        }
      }
    }
  });

  it('skips fractional orders (Infinity), is 0 at q = 0 and the base curve at q = 1', () => {
    expect(rdpPoissonSubsampledGeneral(0.1, gaussian(1), 2.5)).toBe(Infinity);
    expect(rdpPoissonSubsampledGeneral(0, gaussian(1), 8)).toBe(0);
    expect(rdpPoissonSubsampledGeneral(1, gaussian(1), 8)).toBe(4);
  });

  it('checks its inputs, naming the parameter', () => {
    expect(() => rdpPoissonSubsampledGeneral(1.5, gaussian(1), 2)).toThrow(/q/);
    expect(() => rdpPoissonSubsampledGeneral(0.1, 3 as never, 2)).toThrow(TypeError);
    expect(() => rdpPoissonSubsampledGeneral(0.1, gaussian(1), 1)).toThrow(RangeError);
  });

  it('the accountant composes and persists general-subsampling events apart from Gaussian ones', () => {
    const acc = new RdpAccountant().compose(0.1, 1, 50, 'general').compose(0.1, 1, 50, 'general');
    expect(acc.events).toEqual([{ q: 0.1, sigma: 1, steps: 100, subsampling: 'general' }]);
    const eps = acc.epsilon(1e-5).epsilon;
    expect(eps).toBeCloseTo(computeEpsilon({ q: 0.1, sigma: 1, steps: 100, delta: 1e-5, subsampling: 'general' }).epsilon, 12);
    expect(eps).toBeGreaterThan(computeEpsilon({ q: 0.1, sigma: 1, steps: 100, delta: 1e-5 }).epsilon);
    expect(RdpAccountant.fromJSON(JSON.parse(JSON.stringify(acc.toJSON()))).epsilon(1e-5).epsilon).toBe(eps);
    expect(() => RdpAccountant.fromJSON({ version: 1, events: [{ q: 0.1, sigma: 1, steps: 1, subsampling: 'other' }] })).toThrow(/subsampling/);
  });
});
