import { describe, expect, it } from 'vitest';
import { FlockError, type ModelSpec } from '@flock/protocol';
import type { FlatModel } from '@flock/model';
import { Coordinator } from '../coordinator.js';
import type { CoordinatorSettingsInput } from '../options.js';
import { FedAvg } from '../strategy.js';
import { DifferentiallyPrivate, type DifferentialPrivacyOptions } from './differential-privacy.js';

const spec: ModelSpec = { format: 'flock-weights/v1', weights: [{ name: 'w', shape: [3], dtype: 'float32' }] };
const model: FlatModel = { topology: {}, spec, weights: Float32Array.from([0, 1, -1]) };
const dp = (o: Partial<DifferentialPrivacyOptions> = {}): DifferentiallyPrivate =>
  new DifferentiallyPrivate(new FedAvg(), { mode: 'central', noiseMultiplier: 1, clip: 1, samplingRate: 0.1, delta: 1e-5, ...o });

/** The FlockError the Coordinator constructor throws for these settings (fails the test if it does not throw one). */
function refusal(strategy: DifferentiallyPrivate, settings: CoordinatorSettingsInput): FlockError {
  try {
    const c = new Coordinator({ model, strategy, settings: { auth: 'open', ...settings } });
    void c.close();
  } catch (err) {
    expect(err).toBeInstanceOf(FlockError);
    return err as FlockError;
  }
  throw new Error('the coordinator started');
}

describe('a DP strategy meets the coordinator settings at construction', () => {
  it("refuses fixed-size cohorts: the accountant's amplification assumes Poisson sampling", () => {
    // 20 online clients, 10 picked: the real rate is 0.5 while the accountant uses 0.1.
    const err = refusal(dp({ samplingRate: 0.1 }), { fraction: 0.5, sampling: 'fixed' });
    expect(err.code).toBe('DP_UNAVAILABLE');
    expect(err.message).toMatch(/'fixed'/);
    expect(err.message).toMatch(/poisson/);
    expect(err.details).toMatchObject({ sampling: 'fixed', fraction: 0.5, samplingRate: 0.1 });
  });

  it('refuses the library default (fixed sampling, fraction 1) for a DP strategy', () => {
    expect(refusal(dp(), {}).code).toBe('DP_UNAVAILABLE');
  });

  it("refuses Poisson sampling at another rate than the accountant's, naming both values", () => {
    const err = refusal(dp({ samplingRate: 0.1 }), { fraction: 0.5, sampling: 'poisson' });
    expect(err.code).toBe('DP_UNAVAILABLE');
    expect(err.message).toContain('0.5');
    expect(err.message).toContain('0.1');
    expect(err.details).toMatchObject({ fraction: 0.5, samplingRate: 0.1 });
  });

  it('refuses adaptive clipping under secure aggregation: the coordinator never sees the unclipped count there', () => {
    const adaptiveClip = { targetQuantile: 0.5, learningRate: 0.2, countNoiseStddev: 2 };
    const err = refusal(dp({ adaptiveClip }), { fraction: 0.1, sampling: 'poisson', minClients: 3, secureAggregation: { enabled: true } });
    expect(err.code).toBe('DP_UNAVAILABLE');
    expect(err.message).toMatch(/adaptive clipping/);
    expect(err.message).toMatch(/secure aggregation/);
    expect(err.details).toMatchObject({ adaptiveClip: true, secureAggregation: true });
  });

  it('refuses evaluation rounds when the coordinator is not trusted with client statistics (local, distributed)', async () => {
    for (const mode of ['local', 'distributed'] as const) {
      const err = refusal(dp({ mode }), { fraction: 0.1, sampling: 'poisson', evaluateEvery: 5, minClients: 3, secureAggregation: { enabled: mode === 'distributed' } });
      expect(err.code).toBe('DP_UNAVAILABLE');
      expect(err.message).toMatch(/evaluat/);
      expect(err.details).toMatchObject({ mode, evaluateEvery: 5 });
    }
    // Central mode trusts the coordinator with them (it publishes none: test/secret-cohorts.test.ts).
    const c = new Coordinator({ model, strategy: dp(), settings: { auth: 'open', fraction: 0.1, sampling: 'poisson', evaluateEvery: 5 } });
    await c.close();
  });

  it("starts with Poisson sampling at the accountant's rate", async () => {
    const c = new Coordinator({ model, strategy: dp({ samplingRate: 0.1 }), settings: { auth: 'open', fraction: 0.1, sampling: 'poisson' } });
    await c.close();
  });
});
