import { describe, expect, it } from 'vitest';
import { addGridGaussianNoise, GRID_NOISE_UNITS, planGridNoise } from './grid-noise.js';

describe('grid Gaussian noise (exact discrete Gaussian on a power-of-two grid)', () => {
  it('plans a power-of-two step with sigma * sensitivity / step in (2^20, 2^21] and inflates the noise for rounding', () => {
    for (const [sens, sigma, d] of [
      [1, 1, 10],
      [0.05, 0.5, 7850],
      [1e-3, 3, 1e6],
      [7, 0.01, 1],
    ] as const) {
      const p = planGridNoise(sens, sigma, d);
      expect(Math.log2(p.step)).toBe(Math.round(Math.log2(p.step)));
      const units = (sigma * sens) / p.step;
      expect(units).toBeGreaterThan(GRID_NOISE_UNITS / 2);
      expect(units).toBeLessThanOrEqual(GRID_NOISE_UNITS);
      // Rounding both neighbours to the grid moves their difference by at most step * sqrt(d):
      // the noise is calibrated to that inflated sensitivity, so the multiplier stays sigma.
      expect(p.sensitivity).toBe(sens + p.step * Math.sqrt(d));
      expect(p.stddev).toBeCloseTo((sigma * p.sensitivity) / p.step, 6);
    }
  });

  it('outputs only grid points, unbiased, with the planned stddev (within 2%)', () => {
    const d = 100_000;
    const v = Float32Array.from({ length: d }, (_, i) => Math.sin(i) * 0.01);
    const original = Float32Array.from(v);
    const plan = addGridGaussianNoise(v, 0.5, 1.2);
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < d; i++) {
      expect(Number.isInteger(v[i]! / plan.step)).toBe(true);
      const noise = (v[i]! - original[i]!) / plan.step;
      sum += noise;
      sq += noise * noise;
    }
    const mean = sum / d;
    const std = Math.sqrt(sq / d - mean * mean);
    expect(Math.abs(mean)).toBeLessThan((5 * plan.stddev) / Math.sqrt(d));
    expect(Math.abs(std / plan.stddev - 1)).toBeLessThan(0.02);
    // In real units: sigma times the (barely) inflated sensitivity, never less than sigma * S.
    expect(plan.stddev * plan.step).toBeGreaterThanOrEqual(1.2 * 0.5);
    expect(plan.stddev * plan.step).toBeLessThan(1.2 * 0.5 * (1 + 1e-3));
  });

  it('refuses what it cannot do exactly', () => {
    expect(() => addGridGaussianNoise([1] as unknown as Float32Array, 1, 1)).toThrow(TypeError);
    expect(() => planGridNoise(0, 1, 10)).toThrow(/sensitivity/);
    expect(() => planGridNoise(1, 0, 10)).toThrow(/noiseMultiplier/);
    expect(() => planGridNoise(1, 1, 0)).toThrow(/length/);
    expect(() => addGridGaussianNoise(Float32Array.of(Number.NaN), 1, 1)).toThrow(RangeError);
    // A value the grid cannot hold as a safe integer.
    expect(() => addGridGaussianNoise(Float32Array.of(1e30), 1e-6, 1)).toThrow(RangeError);
    // sigma * sqrt(d) beyond the sampler's range.
    expect(() => planGridNoise(1, 1e5, 1e8)).toThrow(RangeError);
  });
});
