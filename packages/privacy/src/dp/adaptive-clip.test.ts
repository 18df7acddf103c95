import { describe, expect, it } from 'vitest';
import { AdaptiveClipper, COUNT_SENSITIVITY, adaptiveClipUpdate, updateNoiseMultiplier } from './adaptive-clip.js';
import { rdpSubsampledGaussian } from './rdp.js';

const opts = { targetQuantile: 0.5, learningRate: 0.2, countNoiseStddev: 2 };

describe('adaptive clipping (Andrew et al. 2021)', () => {
  it('grows the clip when every update is clipped', () => {
    const c = new AdaptiveClipper(1, opts);
    for (let i = 0; i < 10; i++) c.update({ unclipped: 0, count: 100, expectedCount: 100 });
    // Each step multiplies by ~exp(0.2 * 0.5); the count noise (2/100 per step) cannot flip it.
    expect(c.clip).toBeGreaterThan(2);
  });

  it('shrinks the clip when no update is clipped', () => {
    const c = new AdaptiveClipper(1, opts);
    for (let i = 0; i < 10; i++) c.update({ unclipped: 100, count: 100, expectedCount: 100 });
    expect(c.clip).toBeLessThan(0.5);
  });

  it('follows the geometric rule exactly without count noise', () => {
    const r = adaptiveClipUpdate(2, { unclipped: 30, count: 100, expectedCount: 100 }, { ...opts, countNoiseStddev: 0 });
    expect(r.noisyFraction).toBe(0.3);
    expect(r.clip).toBeCloseTo(2 * Math.exp(-0.2 * (0.3 - 0.5)), 14);
  });

  it('splits the noise budget between the count and the update', () => {
    const z = 1;
    const zd = updateNoiseMultiplier(z, 10);
    expect(zd).toBeGreaterThan(z);
    expect(zd ** -2 + (2 * 10) ** -2).toBeCloseTo(z ** -2, 12);
    expect(() => updateNoiseMultiplier(1, 0.4)).toThrow(/countNoiseStddev/);
  });

  it('releases a Gaussian sum of centred bits: one client moves it by exactly 1/2, so the noise split gives exactly z', () => {
    // Without count noise the released statistic is visible through the clip:
    // noisyFraction = (sum_i (b_i - 1/2)) / expectedCount + 1/2 for a public expectedCount.
    const quiet = { ...opts, countNoiseStddev: 0 };
    const released = (unclipped: number, count: number): number => {
      const step = adaptiveClipUpdate(1, { unclipped, count, expectedCount: 60 }, quiet);
      return (step.noisyFraction - 0.5) * 60; // the noised sum itself
    };
    const base = released(30, 60);
    // Add/remove adjacency: one more client, clipped (b = 0) or not (b = 1).
    const withClipped = released(30, 61) - base;
    const withUnclipped = released(31, 61) - base;
    expect(Math.abs(withClipped)).toBeCloseTo(COUNT_SENSITIVITY, 12);
    expect(Math.abs(withUnclipped)).toBeCloseTo(COUNT_SENSITIVITY, 12);
    expect(COUNT_SENSITIVITY).toBe(0.5);
    // Direct computation of the round's mechanism: the update sum (sensitivity C, noise z_d C)
    // and the count (sensitivity 1/2, noise sigma_b) are one Gaussian mechanism whose noise
    // multiplier is (z_d^-2 + (sens_b / sigma_b)^2)^(-1/2); at z = 1, sigma_b = 0.6 it must be 1
    // (with 0/1 bits it would be ~0.57).
    const z = 1;
    const sigmaB = 0.6;
    const zd = updateNoiseMultiplier(z, sigmaB);
    const measured = Math.max(Math.abs(withClipped), Math.abs(withUnclipped));
    const effective = (zd ** -2 + (measured / sigmaB) ** 2) ** -0.5;
    expect(effective).toBeCloseTo(z, 12);
    // And so the accountant's RDP for the round is that of multiplier z, at any order.
    for (const alpha of [2, 8, 32]) expect(rdpSubsampledGaussian(0.1, effective, alpha)).toBeCloseTo(rdpSubsampledGaussian(0.1, z, alpha), 10);
  });

  it('divides by the public expected count, not by the number of updates that came in', () => {
    const step = adaptiveClipUpdate(2, { unclipped: 30, count: 100, expectedCount: 200 }, { ...opts, countNoiseStddev: 0 });
    expect(step.noisyFraction).toBeCloseTo((30 - 50) / 200 + 0.5, 14);
  });

  it('validates inputs', () => {
    expect(() => adaptiveClipUpdate(1, { unclipped: 5, count: 4, expectedCount: 4 }, opts)).toThrow(/unclipped/);
    expect(() => adaptiveClipUpdate(-1, { unclipped: 0, count: 4, expectedCount: 4 }, opts)).toThrow(/clip/);
    expect(() => adaptiveClipUpdate(1, { unclipped: 0, count: 4, expectedCount: 0 }, opts)).toThrow(/expectedCount/);
    expect(() => new AdaptiveClipper(1, { ...opts, targetQuantile: 1 })).toThrow(/targetQuantile/);
    expect(() => new AdaptiveClipper(1, null as unknown as typeof opts)).toThrow(TypeError);
  });
});
