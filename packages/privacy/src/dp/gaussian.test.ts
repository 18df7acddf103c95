import { describe, expect, it } from 'vitest';
import { addGaussianNoise, sampleGaussian, sampleGaussianVector } from './gaussian.js';

describe('continuous Gaussian', () => {
  it('has mean 0 and the requested variance', () => {
    const n = 100_000;
    const v = sampleGaussianVector(2.5, n);
    let m1 = 0;
    let m2 = 0;
    for (const x of v) {
      m1 += x;
      m2 += x * x;
    }
    expect(Math.abs(m1 / n)).toBeLessThan((5 * 2.5) / Math.sqrt(n));
    expect(Math.abs(m2 / n / 6.25 - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
  });

  it('adds noise in place and checks its inputs', () => {
    const v = new Float32Array(10);
    expect(addGaussianNoise(v, 1)).toBe(v);
    expect(v.some((x) => x !== 0)).toBe(true);
    expect(sampleGaussian(0)).toBe(0);
    expect(() => sampleGaussian(-1)).toThrow(/sigma/);
    expect(() => addGaussianNoise([1, 2] as unknown as Float32Array, 1)).toThrow(TypeError);
  });
});
