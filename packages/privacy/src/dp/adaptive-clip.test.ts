import { describe, expect, it } from 'vitest';
import { AdaptiveClipper, adaptiveClipUpdate, updateNoiseMultiplier } from './adaptive-clip.js';

const opts = { targetQuantile: 0.5, learningRate: 0.2, countNoiseStddev: 2 };

describe('adaptive clipping (Andrew et al. 2021)', () => {
  it('grows the clip when every update is clipped', () => {
    const c = new AdaptiveClipper(1, opts);
    for (let i = 0; i < 10; i++) c.update(0, 100);
    // Each step multiplies by ~exp(0.2 * 0.5); the count noise (2/100 per step) cannot flip it.
    expect(c.clip).toBeGreaterThan(2);
  });

  it('shrinks the clip when no update is clipped', () => {
    const c = new AdaptiveClipper(1, opts);
    for (let i = 0; i < 10; i++) c.update(100, 100);
    expect(c.clip).toBeLessThan(0.5);
  });

  it('follows the geometric rule exactly without count noise', () => {
    const r = adaptiveClipUpdate(2, 30, 100, { ...opts, countNoiseStddev: 0 });
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

  it('validates inputs', () => {
    expect(() => adaptiveClipUpdate(1, 5, 4, opts)).toThrow(/unclippedCount/);
    expect(() => adaptiveClipUpdate(-1, 0, 4, opts)).toThrow(/clip/);
    expect(() => new AdaptiveClipper(1, { ...opts, targetQuantile: 1 })).toThrow(/targetQuantile/);
    expect(() => new AdaptiveClipper(1, null as unknown as typeof opts)).toThrow(TypeError);
  });
});
