import { describe, expect, it } from 'vitest';
import { FedAvg } from '../strategy.js';
import { FedAvgM } from './fedavgm.js';
import { aggregate, ctx, CONFIG, expectClose, run } from './test-support.js';

describe('FedAvgM', () => {
  it('matches the hand-computed heavy-ball update (eta=1, momentum=0.5)', () => {
    // x0 = [0, 1, -1]; v_t = 0.5 v_{t-1} + d_t; x_t = x_{t-1} + v_t
    // r1: v = [0.1, -0.2, 0]          x = [0.1, 0.8, -1]
    // r2: v = [0.15, 0.1, 0.3]        x = [0.25, 0.9, -0.7]
    // r3: v = [-0.225, 0.15, 0.45]    x = [0.025, 1.05, -0.25]
    expectClose(run(new FedAvgM({ eta: 1, momentum: 0.5 })), [
      [0.1, 0.8, -1],
      [0.25, 0.9, -0.7],
      [0.025, 1.05, -0.25],
    ]);
  });

  it('matches the hand-computed update with eta=0.5, momentum=0.9', () => {
    // r1: v = [0.1, -0.2, 0]           x = [0.05, 0.9, -1]
    // r2: v = [0.19, 0.02, 0.3]        x = [0.145, 0.91, -0.85]
    // r3: v = [-0.129, 0.118, 0.57]    x = [0.0805, 0.969, -0.565]
    expectClose(run(new FedAvgM({ eta: 0.5, momentum: 0.9 })), [
      [0.05, 0.9, -1],
      [0.145, 0.91, -0.85],
      [0.0805, 0.969, -0.565],
    ]);
  });

  it('with momentum 0 and eta 1 is FedAvg', () => {
    expect(run(new FedAvgM({ momentum: 0, eta: 1 }))).toEqual(run(new FedAvg()));
  });

  it('has the documented defaults and passes the train config through', () => {
    const s = new FedAvgM();
    expect(s.params()).toEqual({ eta: 1, momentum: 0.9 });
    expect(s.configureFit(ctx(1))).toEqual(CONFIG);
    expect(s.createAggregator(3).needsIndividualUpdates).toBe(false);
  });

  it('checks its options, naming the parameter', () => {
    expect(() => new FedAvgM({ momentum: 1 })).toThrow(/momentum/);
    expect(() => new FedAvgM({ momentum: -0.1 })).toThrow(RangeError);
    expect(() => new FedAvgM({ eta: 0 })).toThrow(/eta/);
    expect(() => new FedAvgM({ eta: Number.NaN })).toThrow(TypeError);
    expect(() => new FedAvgM({ eta: '1' as unknown as number })).toThrow(TypeError);
    expect(() => new FedAvgM({ lr: 1 } as unknown as object)).toThrow(/unknown option "lr"/);
  });

  it('refuses a model of another size and non-finite aggregates without touching its state', () => {
    const s = new FedAvgM();
    s.aggregateFit(Float32Array.from([0, 0, 0]), aggregate([1, 1, 1]), ctx(1));
    const before = JSON.stringify(s.state());
    expect(() => s.aggregateFit(Float32Array.from([0, 0]), aggregate([1, 1]), ctx(2))).toThrow(RangeError);
    expect(() => s.aggregateFit(Float32Array.from([0, 0, 0]), aggregate([1, Number.NaN, 1]), ctx(2))).toThrow(/NaN/);
    expect(() => s.aggregateFit(Float32Array.from([0, 0, 0]), aggregate([1, 1]), ctx(2))).toThrow(RangeError);
    expect(() => s.aggregateFit([0, 0, 0] as unknown as Float32Array, aggregate([1, 1, 1]), ctx(2))).toThrow(TypeError);
    expect(JSON.stringify(s.state())).toBe(before);
    expect(s.step).toBe(1);
  });
});
