import { describe, expect, it } from 'vitest';
import { FedAvg } from '../strategy.js';
import { FedAdam, FedAvgM, FedMedian, FedProx } from '../strategies/index.js';
import { ExactSumAggregator } from './exact-sum.js';
import { PartialSumAggregator } from './partial-sum.js';
import { fleetStrategy } from './strategy.js';

describe('fleetStrategy', () => {
  it('aggregates by float64 partial sums, or exactly in deterministic mode', () => {
    const plain = fleetStrategy(new FedAvg()).createAggregator(4);
    expect(plain).toBeInstanceOf(PartialSumAggregator);
    expect(plain).not.toBeInstanceOf(ExactSumAggregator);
    expect(fleetStrategy(new FedAvg(), { exact: true }).createAggregator(4)).toBeInstanceOf(ExactSumAggregator);
    expect(fleetStrategy(new FedProx({ mu: 0.1 }), { exact: true }).createAggregator(4)).toBeInstanceOf(ExactSumAggregator);
  });

  it('refuses strategies with server state in deterministic mode (only the leader would hold it)', () => {
    expect(() => fleetStrategy(new FedAvgM({ momentum: 0.9 }), { exact: true })).toThrow(/keeps server state .* stateless strategies only/);
    expect(() => fleetStrategy(new FedAdam(), { exact: true })).toThrow(RangeError);
    // Without deterministic mode they still run (their state restarts with a new leader).
    expect(fleetStrategy(new FedAvgM({ momentum: 0.9 })).createAggregator(2)).toBeInstanceOf(PartialSumAggregator);
  });

  it('refuses robust aggregators and checks its inputs', () => {
    expect(() => fleetStrategy(new FedMedian())).toThrow(/weighted mean/);
    expect(() => fleetStrategy(null as never)).toThrow(TypeError);
    expect(() => fleetStrategy(new FedAvg(), { exact: 'yes' as never })).toThrow(TypeError);
    expect(() => fleetStrategy(new FedAvg(), null as never)).toThrow(TypeError);
  });
});
