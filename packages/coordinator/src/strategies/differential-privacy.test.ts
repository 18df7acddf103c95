import { describe, expect, it } from 'vitest';
import { computeEpsilon, l2Norm, planGridNoise } from '@flock/privacy';
import { FedAvg } from '../strategy.js';
import { DifferentiallyPrivate } from './differential-privacy.js';
import { StrategyConfigError } from './errors.js';

const base = { epochs: 1, batchSize: 32, learningRate: 0.1 };
const ctx = { round: 1, modelVersion: 0, config: base };

describe('DifferentiallyPrivate (DP-FedAvg wrapper)', () => {
  it('tells clients to clip (and, in local mode, how much noise to add)', () => {
    const central = new DifferentiallyPrivate(new FedAvg(), { mode: 'central', noiseMultiplier: 1.1, clip: 0.5, samplingRate: 0.1, delta: 1e-5 });
    expect(central.configureFit(ctx)).toEqual({ ...base, privacy: { mode: 'central', clip: 0.5 } });
    const local = new DifferentiallyPrivate(new FedAvg(), { mode: 'local', noiseMultiplier: 2, clip: 0.5, samplingRate: 0.1, delta: 1e-5 });
    expect(local.configureFit(ctx).privacy).toEqual({ mode: 'local', clip: 0.5, noiseStddev: 1, noiseMultiplier: 2 });
  });

  it('weights every update equally, whatever example count it claims', () => {
    const dp = new DifferentiallyPrivate(new FedAvg(), { mode: 'local', noiseMultiplier: 1, clip: 1, samplingRate: 1, delta: 1e-5 });
    const agg = dp.createAggregator(2);
    agg.add('a', new Float32Array([1, 0]), 1_000_000);
    agg.add('b', new Float32Array([0, 1]), 1);
    expect(Array.from(agg.result().meanDelta)).toEqual([0.5, 0.5]);
  });

  it('central mode re-clips every update to C on the server: a client that skipped clipping cannot raise the sensitivity', () => {
    const clip = 0.5;
    const dp = new DifferentiallyPrivate(new FedAvg(), { mode: 'central', noiseMultiplier: 1, clip, samplingRate: 1, delta: 1e-5 });
    const agg = dp.createAggregator(3);
    agg.add('honest', new Float32Array([0.1, 0, 0]), 1);
    agg.add('evil', new Float32Array([1e6, -1e6, 1e6]), 1);
    const mean = agg.result().meanDelta;
    expect(l2Norm(mean)).toBeLessThanOrEqual(clip);
    // The evil update counts as clipped, at norm C, in the direction it pointed.
    expect(mean[1]!).toBeCloseTo(-clip / Math.sqrt(3) / 2, 5);
  });

  it('central mode draws its noise from the exact discrete Gaussian on the documented grid (no Box-Muller floats)', () => {
    const sigma = 0.8;
    const clip = 0.3;
    const n = 4;
    const m = 5000;
    const dp = new DifferentiallyPrivate(new FedAvg(), { mode: 'central', noiseMultiplier: sigma, clip, samplingRate: 1, delta: 1e-5 });
    const agg = dp.createAggregator(m);
    for (let i = 0; i < n; i++) agg.add(`c${i}`, Float32Array.from({ length: m }, (_, j) => ((j % 7) - 3) * 1e-4), 1);
    const next = dp.aggregateFit(new Float32Array(m), agg.result(), ctx);
    const { step } = planGridNoise(clip / n, sigma, m);
    expect([...next].filter((v) => !Number.isInteger(v / step))).toEqual([]);
  });

  it('central mode adds noise of stddev sigma*C/n to the mean (within 2%)', () => {
    const sigma = 1.3;
    const clip = 0.7;
    const n = 10;
    const m = 200_000;
    const dp = new DifferentiallyPrivate(new FedAvg(), { mode: 'central', noiseMultiplier: sigma, clip, samplingRate: 0.1, delta: 1e-5 });
    const agg = dp.createAggregator(m);
    for (let i = 0; i < n; i++) agg.add(`c${i}`, new Float32Array(m), 1);
    const next = dp.aggregateFit(new Float32Array(m), agg.result(), ctx);
    let sum = 0;
    let sq = 0;
    for (const v of next) {
      sum += v;
      sq += v * v;
    }
    const mean = sum / m;
    const std = Math.sqrt(sq / m - mean * mean);
    expect(Math.abs(mean)).toBeLessThan((5 * sigma * clip) / n / Math.sqrt(m));
    expect(Math.abs(std / ((sigma * clip) / n) - 1)).toBeLessThan(0.02);
  });

  it('reports the accountant epsilon after each round, equal to computeEpsilon', () => {
    const opts = { mode: 'local' as const, noiseMultiplier: 1.0, clip: 1, samplingRate: 0.1, delta: 1e-5 };
    const dp = new DifferentiallyPrivate(new FedAvg(), opts);
    expect(dp.epsilon()).toBe(0);
    for (let r = 0; r < 100; r++) {
      const agg = dp.createAggregator(1);
      agg.add('a', new Float32Array([0]), 1);
      dp.aggregateFit(new Float32Array(1), agg.result(), ctx);
    }
    const expected = computeEpsilon({ q: 0.1, sigma: 1.0, steps: 100, delta: 1e-5 }).epsilon;
    expect(dp.epsilon()).toBeCloseTo(expected, 10);
    expect(dp.roundMetrics()).toMatchObject({ epsilon: expected, delta: 1e-5, noiseMultiplier: 1, clip: 1 });
    // The planning figure: q = 0.1, sigma = 1, 100 rounds -> epsilon about 7.9 at delta 1e-5.
    expect(expected).toBeGreaterThan(7.8);
    expect(expected).toBeLessThan(8);
  });

  it('adaptive clipping: the clip rises when every update is clipped and falls when none is', () => {
    const adaptiveClip = { targetQuantile: 0.5, learningRate: 0.2, countNoiseStddev: 1 };
    const population = { ...ctx, population: 1000 }; // q * population = 100 = the cohort below
    const run = (norm: number): { before: number; after: number } => {
      const dp = new DifferentiallyPrivate(new FedAvg(), { mode: 'central', noiseMultiplier: 1, clip: 1, samplingRate: 0.1, delta: 1e-5, adaptiveClip });
      const before = dp.clip;
      for (let r = 0; r < 5; r++) {
        const c = dp.clip;
        const agg = dp.createAggregator(4);
        // 100 clients whose updates, as clipped by the SDK, have norm min(norm, clip).
        for (let i = 0; i < 100; i++) agg.add(`c${i}`, new Float32Array([Math.min(norm, c), 0, 0, 0]), 1);
        dp.aggregateFit(new Float32Array(4), agg.result(), population);
      }
      expect(dp.configureFit(ctx).privacy?.clip).toBe(dp.clip);
      return { before, after: dp.clip };
    };
    const allClipped = run(1000);
    expect(allClipped.after).toBeGreaterThan(allClipped.before);
    const noneClipped = run(1e-6);
    expect(noneClipped.after).toBeLessThan(noneClipped.before);
    expect(() => new DifferentiallyPrivate(new FedAvg(), { mode: 'local', noiseMultiplier: 1, clip: 1, samplingRate: 0.1, delta: 1e-5, adaptiveClip })).toThrow(/central mode/);
  });

  it('adaptive clipping estimates the unclipped fraction over the expected cohort (q * population), from centred bits', () => {
    // Nearly noiseless (z = 0.01, sigma_b = 0.01) so the step is visible: 30 of 100 updates
    // unclipped, but 200 were expected (q = 0.5, 400 eligible): the released centred sum is
    // 30 - 50 = -20, and the fraction is -20 / 200 + 1/2 = 0.4 (not 30 / 100).
    const adaptiveClip = { targetQuantile: 0.5, learningRate: 0.2, countNoiseStddev: 0.01 };
    const dp = new DifferentiallyPrivate(new FedAvg(), { mode: 'central', noiseMultiplier: 0.01, clip: 1, samplingRate: 0.5, delta: 1e-5, adaptiveClip });
    const agg = dp.createAggregator(2);
    for (let i = 0; i < 100; i++) agg.add(`c${i}`, new Float32Array(i < 30 ? [0.1, 0] : [5, 0]), 1);
    dp.aggregateFit(new Float32Array(2), agg.result(), { ...ctx, population: 400 });
    expect(dp.clip).toBeCloseTo(Math.exp(-0.2 * (0.4 - 0.5)), 4);
    // Without the population there is no public denominator: refused rather than guessed.
    const other = new DifferentiallyPrivate(new FedAvg(), { mode: 'central', noiseMultiplier: 0.01, clip: 1, samplingRate: 0.5, delta: 1e-5, adaptiveClip });
    const a2 = other.createAggregator(2);
    a2.add('x', new Float32Array([0.1, 0]), 1);
    expect(() => other.aggregateFit(new Float32Array(2), a2.result(), ctx)).toThrow(/population/);
  });

  it('refuses invalid settings with a typed error', () => {
    expect(() => new DifferentiallyPrivate(new FedAvg(), { mode: 'central', noiseMultiplier: 0, clip: 1, samplingRate: 0.1, delta: 1e-5 })).toThrow(StrategyConfigError);
    expect(() => new DifferentiallyPrivate(new FedAvg(), { mode: 'central', noiseMultiplier: 1, clip: 1, samplingRate: 0, delta: 1e-5 })).toThrow(/samplingRate/);
    expect(() => new DifferentiallyPrivate(new FedAvg(), { mode: 'x' as 'central', noiseMultiplier: 1, clip: 1, samplingRate: 1, delta: 1e-5 })).toThrow(/mode/);
  });
});
