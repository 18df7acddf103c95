import { describe, expect, it } from 'vitest';
import { FedAvg } from '../strategy.js';
import { DifferentiallyPrivate } from './differential-privacy.js';
import { FedAvgM } from './fedavgm.js';
import { StrategyConfigError } from './errors.js';
import { aggregate, ctx } from './test-support.js';

const adaptive = () =>
  new DifferentiallyPrivate(new FedAvgM({ momentum: 0.9 }), { mode: 'central', noiseMultiplier: 1.1, clip: 1, samplingRate: 0.2, delta: 1e-5, adaptiveClip: { targetQuantile: 0.5, learningRate: 0.2, countNoiseStddev: 2 } });

describe('DifferentiallyPrivate state()/restoreState()', () => {
  it('round-trips the accountant, ledger, adaptive clip and wrapped optimizer state through JSON', () => {
    const a = adaptive();
    let w: Float32Array = Float32Array.from([0, 1, -1]);
    for (let r = 1; r <= 3; r++) {
      a.createAggregator(3);
      w = a.aggregateFit(w, aggregate([0.1, -0.1, 0.2]), { ...ctx(r), population: 10, reporters: ['x', r === 2 ? 'y' : 'x'] });
    }
    const saved = JSON.parse(JSON.stringify(a.state())) as unknown;
    const b = adaptive();
    b.restoreState(saved);
    expect(b.state()).toEqual(a.state());
    expect(b.epsilon()).toBe(a.epsilon());
    expect(b.clip).toBe(a.clip);
    expect(b.accountant.steps).toBe(3);
    expect(b.receiptFields()).toEqual(a.receiptFields());
  });

  it('refuses malformed state or the state of another strategy, changing nothing', () => {
    const s = new DifferentiallyPrivate(new FedAvg(), { mode: 'central', noiseMultiplier: 1, clip: 1, samplingRate: 1, delta: 1e-5 });
    const before = s.state();
    expect(() => s.restoreState(null)).toThrow(StrategyConfigError);
    expect(() => s.restoreState({ ...before, strategy: 'dp-central(fedadam)' })).toThrow(/belongs to strategy/);
    expect(() => s.restoreState({ ...before, rounds: -1 })).toThrow(/rounds/);
    expect(() => s.restoreState({ ...before, accountant: [{ q: 2, sigma: 1, steps: 1 }] })).toThrow();
    expect(() => s.restoreState({ ...before, inner: { format: 'x' } })).toThrow(/keeps none/);
    expect(s.state()).toEqual(before);
  });
});
