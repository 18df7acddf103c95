import { describe, expect, it } from 'vitest';
import { simulateSecAggRound, WeightedEncoder } from '../secagg/index.js';
import { nodePlatform } from '../platform/node.js';
import { addLatticeNoise } from './lattice-noise.js';

/**
 * Distributed DP end to end through the SecAgg+ engine: every client sends a zero update plus
 * its discrete Gaussian share sigma*C*scale/sqrt(t); the decoded sum of s survivors must carry
 * noise of stddev sigma*C*sqrt(s/t) — never below sigma*C, since s >= t.
 */
describe('distributed noise inside secure aggregation', () => {
  const n = 10;
  const k = 9;
  const t = 6;
  const sigma = 1.0;
  const clip = 0.5;
  const m = 20_000;
  const rounds = 10; // 200,000 coordinates per case

  async function noiseStd(dropAfterSharing: string[]): Promise<{ std: number; survivors: number }> {
    const ids = Array.from({ length: n }, (_, i) => `c${String(i).padStart(2, '0')}`);
    const encoder = new WeightedEncoder({ clip, nMax: n, weightCap: 1, platform: nodePlatform });
    const share = (sigma * clip * encoder.quantizer.scale) / Math.sqrt(t);
    let sq = 0;
    let count = 0;
    let survivors = 0;
    for (let r = 0; r < rounds; r++) {
      const result = await simulateSecAggRound({
        session: 'dp-test',
        round: r,
        ids,
        k,
        t,
        vectorLength: m + 1,
        nMax: n,
        platform: nodePlatform,
        drop: { maskedInput: dropAfterSharing },
        input: async () => {
          const encoded = await encoder.encode(new Float32Array(m), 1);
          addLatticeNoise(encoded, m, share);
          return encoded;
        },
      });
      const decoded = encoder.decode(result.sum);
      survivors = decoded.totalWeight;
      for (const v of decoded.weightedSum) sq += v * v;
      count += m;
    }
    return { std: Math.sqrt(sq / count), survivors };
  }

  it('no dropouts: stddev of the sum is sigma*C*sqrt(n/t) within 2%', async () => {
    const { std, survivors } = await noiseStd([]);
    expect(survivors).toBe(n);
    expect(Math.abs(std / (sigma * clip * Math.sqrt(n / t)) - 1)).toBeLessThan(0.02);
  });

  it('the most dropouts a round survives (s = t + 1): stddev is sigma*C*sqrt(s/t) within 2%, above sigma*C', async () => {
    // A survivor's self-mask seed is rebuilt from t shares held by *other* survivors, so a
    // completed round always has at least t + 1 survivors: calibrating to t is conservative.
    const { std, survivors } = await noiseStd(['c01', 'c04', 'c07']);
    expect(survivors).toBe(t + 1);
    expect(Math.abs(std / (sigma * clip * Math.sqrt(survivors / t)) - 1)).toBeLessThan(0.02);
    expect(std).toBeGreaterThan(sigma * clip);
  });
});
