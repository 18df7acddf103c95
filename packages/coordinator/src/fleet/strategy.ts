import { WeightedMeanAggregator } from '../aggregator.js';
import type { Strategy } from '../strategy.js';
import { DifferentiallyPrivate } from '../strategies/differential-privacy.js';
import { PartialSumAggregator } from './partial-sum.js';

/**
 * A strategy for a fleet: the same strategy, aggregating with PartialSumAggregator (FedAvg's
 * arithmetic, plus partial sums from other nodes). Only strategies that aggregate by FedAvg's
 * weighted mean qualify; robust aggregators (median, trimmed mean) need every update in one
 * place and are refused.
 */
export function fleetStrategy(inner: Strategy): Strategy {
  if (!inner || typeof inner.createAggregator !== 'function') throw new TypeError('strategy must be a Strategy');
  // Differential privacy over FedAvg: only in central or distributed mode, where the fleet runs
  // grouped SecAgg+ and the DP strategy gets the cohort's sum (fleet/grouped-round.ts); local
  // mode would need the DP aggregator's uniform weights on every node.
  const dp = inner instanceof DifferentiallyPrivate ? inner : undefined;
  if (dp && dp.options.mode === 'local') throw new RangeError('a fleet runs differential privacy in central or distributed mode only, under secure aggregation (grouped SecAgg+)');
  if (!((dp ? dp.inner : inner).createAggregator(1) instanceof WeightedMeanAggregator)) {
    throw new RangeError(`strategy ${inner.name} does not aggregate by a weighted mean; a fleet can only run FedAvg-family strategies`);
  }
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'createAggregator') return (numParams: number) => new PartialSumAggregator(numParams);
      // On the strategy itself: methods and getters that use private (#) fields (the DP accountant).
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
