import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clipL2, l2Norm } from './clip.js';

describe('L2 clipping', () => {
  it('property: the clipped vector has L2 norm <= C', () => {
    // Tolerance: the checker's own norm is accumulated in float64, so it can exceed the
    // true norm by about n * 2^-53 relative (< 1e-13 here). clipL2 itself guarantees the
    // true norm <= C (it shrinks the factor by 2^-22 to absorb the float32 rounding of
    // each coordinate, up to 2^-24 relative).
    fc.assert(
      fc.property(
        fc.array(fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), { minLength: 1, maxLength: 300 }),
        fc.double({ min: 1e-6, max: 1e3, noNaN: true }),
        (xs, c) => {
          const v = Float32Array.from(xs);
          const r = clipL2(v, c);
          const norm = l2Norm(r.vector);
          expect(norm).toBeLessThanOrEqual(c * (1 + 1e-12));
          if (!r.clipped) expect(r.factor).toBe(1);
          else expect(r.factor).toBeLessThan(1);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('reports factor and clipped flag; leaves small vectors alone; inPlace works', () => {
    const v = Float32Array.from([3, 4]);
    const r = clipL2(v, 1);
    expect(r.clipped).toBe(true);
    expect(r.norm).toBe(5);
    expect(r.factor).toBeCloseTo(0.2, 6);
    expect(v[0]).toBe(3); // not in place by default
    const s = clipL2(Float32Array.from([0.3, 0.4]), 1);
    expect(s).toMatchObject({ clipped: false, factor: 1 });
    const w = Float32Array.from([30, 40]);
    expect(clipL2(w, 5, { inPlace: true }).vector).toBe(w);
    expect(l2Norm(w)).toBeLessThanOrEqual(5);
  });

  it('accumulates the norm in float64', () => {
    const v = new Float32Array(1_000_000).fill(0.1);
    expect(l2Norm(v)).toBeCloseTo(Math.sqrt(1e6 * Math.fround(0.1) ** 2), 9);
  });

  it('validates inputs', () => {
    expect(() => clipL2([1, 2] as unknown as Float32Array, 1)).toThrow(TypeError);
    expect(() => clipL2(new Float32Array(2), 0)).toThrow(/clip/);
    expect(() => clipL2(new Float32Array(2), Number.NaN)).toThrow(RangeError);
    expect(() => clipL2(new Float32Array(2), '1' as unknown as number)).toThrow(TypeError);
    expect(() => l2Norm(Float32Array.from([1, Number.NaN]))).toThrow(RangeError);
  });
});
