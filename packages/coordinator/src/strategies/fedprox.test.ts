import { describe, expect, it } from 'vitest';
import { FedAvg } from '../strategy.js';
import { FedProx } from './fedprox.js';
import { CONFIG, ctx, run } from './test-support.js';

describe('FedProx strategy', () => {
  it('adds proximalMu to the round config without changing the federation default', () => {
    const s = new FedProx({ mu: 0.05 });
    const c = ctx(3);
    expect(s.configureFit(c)).toEqual({ ...CONFIG, proximalMu: 0.05 });
    expect(c.config).toEqual(CONFIG);
    expect(c.config).not.toHaveProperty('proximalMu');
  });

  it('aggregates like FedAvg', () => {
    expect(run(new FedProx())).toEqual(run(new FedAvg()));
    expect(new FedProx().createAggregator(3).needsIndividualUpdates).toBe(false);
    expect(new FedProx().name).toBe('fedprox');
  });

  it('defaults mu to 0.01, allows 0 and checks it', () => {
    expect(new FedProx().mu).toBe(0.01);
    expect(new FedProx({ mu: 0 }).configureFit(ctx(1)).proximalMu).toBe(0);
    expect(() => new FedProx({ mu: -1 })).toThrow(/mu/);
    expect(() => new FedProx({ mu: Infinity })).toThrow(RangeError);
    expect(() => new FedProx().configureFit({} as never)).toThrow(TypeError);
  });
});
