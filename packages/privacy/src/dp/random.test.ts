import { describe, expect, it } from 'vitest';
import { randomBelow, randomBigBelow, randomBit, randomOpenUnit, randomUint53 } from './random.js';

describe('crypto random helpers', () => {
  it('randomBelow is in range and roughly uniform (chi-square, 5 dof)', () => {
    const n = 60_000;
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < n; i++) counts[randomBelow(6)]!++;
    const e = n / 6;
    const chi2 = counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
    expect(chi2).toBeLessThan(25.7); // p = 1e-4 for 5 degrees of freedom
  });

  it('handles ranges above 2^32, including just above a power of two', () => {
    const n = 2 ** 52 + 1;
    let top = false;
    for (let i = 0; i < 4000; i++) {
      const x = randomBelow(n);
      expect(Number.isInteger(x) && x >= 0 && x < n).toBe(true);
      if (x >= 2 ** 51) top = true;
    }
    expect(top).toBe(true);
    for (let i = 0; i < 100; i++) expect(randomBelow(2 ** 53)).toBeLessThan(2 ** 53);
    expect(randomBelow(1)).toBe(0);
    expect(() => randomBelow(0)).toThrow(RangeError);
    expect(() => randomBelow(1.5)).toThrow(RangeError);
  });

  it('bigint, bit, 53-bit and unit helpers stay in range', () => {
    const big = 10n ** 30n + 7n;
    for (let i = 0; i < 200; i++) {
      const x = randomBigBelow(big);
      expect(x >= 0n && x < big).toBe(true);
      expect([0, 1]).toContain(randomBit());
      const m = randomUint53();
      expect(m >= 0 && m < 2 ** 53 && Number.isInteger(m)).toBe(true);
      const u = randomOpenUnit();
      expect(u > 0 && u < 1).toBe(true);
    }
  });
});
