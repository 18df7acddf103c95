import { describe, expect, it } from 'vitest';
import { createRng, Rng } from './rng.js';

function draws(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.uint32());
}

describe('Rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    expect(draws(createRng(42), 20)).toEqual(draws(createRng(42), 20));
    expect(draws(createRng(42), 20)).not.toEqual(draws(createRng(43), 20));
    expect(draws(createRng(0), 20)).not.toEqual(draws(createRng(-1), 20));
    expect(draws(createRng(2 ** 40), 20)).not.toEqual(draws(createRng(0), 20));
  });

  it('fork depends on the seed and label only, not on the parent position', () => {
    const a = createRng(7);
    const b = createRng(7);
    draws(b, 100);
    expect(draws(a.fork('data'), 10)).toEqual(draws(b.fork('data'), 10));
    expect(draws(a.fork('data'), 10)).not.toEqual(draws(a.fork('faults'), 10));
    expect(draws(a.fork(1), 10)).not.toEqual(draws(a.fork('1'), 10));
    expect(draws(a.fork('x').fork('y'), 10)).toEqual(draws(createRng(7).fork('x').fork('y'), 10));
    expect(draws(a.fork('x').fork('y'), 10)).not.toEqual(draws(a.fork('y').fork('x'), 10));
    // A fork is not the parent stream.
    expect(draws(createRng(7), 10)).not.toEqual(draws(createRng(7).fork(''), 10));
  });

  it('float is in [0,1) with mean ~1/2; int covers its inclusive range uniformly', () => {
    const rng = createRng(1);
    let sum = 0;
    let outside = 0;
    const n = 50_000;
    for (let i = 0; i < n; i++) {
      const u = rng.float();
      if (!(u >= 0 && u < 1)) outside++;
      sum += u;
    }
    expect(outside).toBe(0);
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.01);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60_000; i++) counts[rng.int(1, 6) - 1]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
    expect(rng.int(5, 5)).toBe(5);
    const big = rng.int(0, 2 ** 40);
    expect(Number.isInteger(big) && big >= 0 && big <= 2 ** 40).toBe(true);
  });

  it('shuffle is a permutation and is uniform on 3 elements', () => {
    const rng = createRng(3);
    const counts = new Map<string, number>();
    for (let i = 0; i < 12_000; i++) {
      const key = rng.shuffle([0, 1, 2]).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    for (const c of counts.values()) expect(Math.abs(c - 2000)).toBeLessThan(200);
    const p = rng.permutation(1000);
    expect(Array.from(p).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('sample returns k distinct indices', () => {
    const rng = createRng(4);
    for (const [n, k] of [[10, 10], [1000, 7], [100, 0], [50, 30]] as const) {
      const s = rng.sample(n, k);
      expect(s.length).toBe(k);
      expect(new Set(s).size).toBe(k);
      for (const v of s) expect(v).toBeLessThan(n);
    }
  });

  it('gamma has the right mean and variance for shapes below and above 1', () => {
    const rng = createRng(5);
    for (const shape of [0.1, 0.5, 1, 2.5, 10]) {
      const n = 40_000;
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < n; i++) {
        const x = rng.gamma(shape);
        s += x;
        s2 += x * x;
      }
      const mean = s / n;
      const variance = s2 / n - mean * mean;
      // Gamma(k, 1): mean k, variance k. Tolerance ~5 standard errors.
      expect(Math.abs(mean - shape)).toBeLessThan(5 * Math.sqrt(shape / n));
      expect(Math.abs(variance - shape) / shape).toBeLessThan(shape < 0.5 ? 0.25 : 0.08);
    }
    expect(rng.gamma(2, 3)).toBeGreaterThan(0);
  });

  it('dirichlet sums to 1, matches Beta marginals, and survives tiny alphas', () => {
    const rng = createRng(6);
    const k = 5;
    const alpha = 0.5;
    const n = 20_000;
    let s = 0;
    let s2 = 0;
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const p = rng.dirichlet(alpha, k);
      let tot = 0;
      for (const v of p) tot += v;
      worst = Math.max(worst, Math.abs(tot - 1));
      s += p[0]!;
      s2 += p[0]! * p[0]!;
    }
    expect(worst).toBeLessThan(1e-9);
    const mean = s / n;
    const variance = s2 / n - mean * mean;
    const a0 = alpha * k;
    expect(Math.abs(mean - 1 / k)).toBeLessThan(0.01);
    const expectedVar = ((1 / k) * (1 - 1 / k)) / (a0 + 1);
    expect(Math.abs(variance - expectedVar) / expectedVar).toBeLessThan(0.08);
    const tiny = rng.dirichlet(0.001, 10);
    expect(tiny.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    expect(Math.abs(tiny.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-9);
    const vec = rng.dirichlet([1, 2, 3]);
    expect(vec.length).toBe(3);
  });

  it('checks its inputs', () => {
    expect(() => createRng(1.5)).toThrow(RangeError);
    expect(() => createRng('1' as unknown as number)).toThrow(TypeError);
    const rng = createRng(1);
    expect(() => rng.int(3, 2)).toThrow(RangeError);
    expect(() => rng.below(0)).toThrow(RangeError);
    expect(() => rng.gamma(0)).toThrow(/shape/);
    expect(() => rng.dirichlet(-1, 3)).toThrow(RangeError);
    expect(() => rng.dirichlet(1)).toThrow(TypeError);
    expect(() => rng.chance(2)).toThrow(RangeError);
    expect(() => rng.sample(3, 4)).toThrow(/k must be/);
    expect(() => rng.fork({} as unknown as string)).toThrow(TypeError);
  });
});
