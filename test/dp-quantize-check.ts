// Shared by dp-secagg.test.ts (small) and dp-secagg.slow.test.ts (the d = 1e6, n = 1000).
import { expect } from 'vitest';
import { nodePlatform } from '@flock/privacy/node';
import { DpQuantizer, planDpQuantization, type DpQuantizationPlan } from '@flock/privacy';

/** A seeded xorshift generator for test data (not privacy randomness). */
export function testRng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** A random direction scaled to L2 norm exactly `norm` (float64 then float32, as a client's clipped update). */
export function clippedUpdate(d: number, norm: number, rnd: () => number): Float32Array {
  const v = new Float64Array(d);
  let sq = 0;
  for (let i = 0; i < d; i++) {
    // Box-Muller for test data only.
    const x = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
    v[i] = x;
    sq += x * x;
  }
  const f = norm / Math.sqrt(sq);
  return Float32Array.from(v, (x) => x * f);
}

/**
 * Quantizes `updates` clipped updates of length d for a cohort of n with the plan the
 * coordinator would use, and asserts every encoding's norm is within the bound the noise and
 * the accountant are calibrated to. Returns the largest norm over C * scale.
 */
export async function checkEnforcedBound(d: number, n: number, updates: number): Promise<{ plan: DpQuantizationPlan; maxRatio: number; maxAttempts: number }> {
  const clip = 1;
  const plan = planDpQuantization({ clip, dimension: d, cohort: n, minSurvivors: Math.ceil((2 * n) / 3), noiseMultiplier: 1, distributed: true });
  const q = new DpQuantizer({ clip, scale: plan.scale, dimension: d, platform: nodePlatform });
  expect(q.bound).toBe(plan.bound);
  // The accountant's sensitivity is the enforced bound, in lattice and in model units.
  expect(plan.sensitivity).toBeCloseTo(plan.bound / plan.scale, 12);
  expect(plan.clientStddev).toBeCloseTo(plan.bound / Math.sqrt(Math.ceil((2 * n) / 3)), 6);
  const rnd = testRng(d + n);
  let maxRatio = 0;
  let maxAttempts = 0;
  for (let u = 0; u < updates; u++) {
    // Half random directions, half the rounding's worst case: every coordinate equal, so each
    // scaled coordinate sits far from the lattice and every coordinate's rounding adds variance.
    const x = u % 2 === 0 ? clippedUpdate(d, clip, rnd) : new Float32Array(d).fill(((1 - 2 ** -20) * clip) / Math.sqrt(d));
    const enc = await q.encode(x);
    const signed = new Int32Array(enc.buffer);
    let sq = 0;
    for (let i = 0; i < d; i++) sq += signed[i]! * signed[i]!;
    const norm = Math.sqrt(sq);
    expect(norm).toBeLessThanOrEqual(plan.bound);
    maxRatio = Math.max(maxRatio, norm / (clip * plan.scale));
    maxAttempts = Math.max(maxAttempts, q.lastAttempts);
  }
  return { plan, maxRatio, maxAttempts };
}
