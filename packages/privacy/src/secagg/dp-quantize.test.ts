import { describe, expect, it } from 'vitest';
import { FlockError } from '@flock/protocol';
import { nodePlatform } from '../platform/node.js';
import { DpQuantizer, planDpQuantization, roundedL2Bound, RING_BOUND } from './dp-quantize.js';

describe('DP quantization (conditional randomized rounding)', () => {
  it('Delta2 is the smaller of the two bounds of Kairouz et al. 2021', () => {
    // c = 1000, d = 1e6: sqrt(1e6 + 250000 + 1 * (1000 + 500)) against 2000.
    expect(roundedL2Bound(1000, 1e6)).toBeCloseTo(Math.sqrt(1_251_500), 9);
    // Small c, large d: c + sqrt(d) can be the smaller one only when beta is tiny.
    expect(roundedL2Bound(1, 100, 1e-300)).toBe(11);
    expect(() => roundedL2Bound(0, 10)).toThrow(RangeError);
    expect(() => roundedL2Bound(1, 1.5)).toThrow(RangeError);
    expect(() => roundedL2Bound('1' as unknown as number, 1)).toThrow(TypeError);
  });

  it('rounding that would exceed Delta2 is rejected and redrawn; encode always returns a vector within it', async () => {
    const q = new DpQuantizer({ clip: 1, scale: 10, dimension: 400, platform: nodePlatform });
    const y = q.latticeVector(new Float32Array(400).fill(1)); // clipped to norm C: every coordinate 0.5 lattice units
    expect(q.roundWith(y, new Uint32Array(400))).toBeUndefined(); // all up: norm 20 > Delta2
    expect(q.roundWith(y, new Uint32Array(400).fill(4294967295))).toBeDefined(); // all down: norm 0
    for (let i = 0; i < 20; i++) {
      const enc = new Int32Array((await q.encode(new Float32Array(400).fill(1))).buffer);
      expect(Math.hypot(...enc)).toBeLessThanOrEqual(q.bound);
    }
  });

  it('the plan keeps the worst-case noisy sum inside int32, and refuses what cannot fit', () => {
    for (const [n, sigma] of [[3, 5], [100, 1], [1000, 0.5], [50_000, 2]] as const) {
      const p = planDpQuantization({ clip: 0.1, dimension: 100_000, cohort: n, minSurvivors: Math.ceil(n / 2), noiseMultiplier: sigma, distributed: true });
      expect(p.sumBound).toBeLessThanOrEqual(RING_BOUND);
      expect(p.inflation).toBeLessThan(1.1);
      expect(p.sensitivity).toBeGreaterThanOrEqual(0.1);
    }
    expect(() => planDpQuantization({ clip: 1, dimension: 2 ** 29, cohort: 2 ** 20, minSurvivors: 2 ** 19, noiseMultiplier: 50, distributed: true })).toThrow(FlockError);
    expect(() => planDpQuantization({ clip: 1, dimension: 10, cohort: 3, minSurvivors: 4, noiseMultiplier: 1, distributed: true })).toThrow(RangeError);
    expect(() => planDpQuantization({ clip: 1, dimension: 10, cohort: 3, minSurvivors: 2, noiseMultiplier: 1, distributed: 'yes' as unknown as boolean })).toThrow(TypeError);
  });
});
