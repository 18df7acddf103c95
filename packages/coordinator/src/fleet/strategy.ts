import { WeightedMeanAggregator } from '../aggregator.js';
import type { Strategy } from '../strategy.js';
import { PartialSumAggregator } from './partial-sum.js';

/**
 * A strategy for a fleet: the same strategy, aggregating with PartialSumAggregator (FedAvg's
 * arithmetic, plus partial sums from other nodes). Only strategies that aggregate by FedAvg's
 * weighted mean qualify; robust aggregators (median, trimmed mean) need every update in one
 * place and are refused.
 */
export function fleetStrategy(inner: Strategy): Strategy {
  if (!inner || typeof inner.createAggregator !== 'function') throw new TypeError('strategy must be a Strategy');
  if (!(inner.createAggregator(1) instanceof WeightedMeanAggregator)) {
    throw new RangeError(`strategy ${inner.name} does not aggregate by a weighted mean; a fleet can only run FedAvg-family strategies`);
  }
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'createAggregator') return (numParams: number) => new PartialSumAggregator(numParams);
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}
