import { WeightedMeanAggregator } from '../aggregator.js';
import type { Strategy } from '../strategy.js';
import { DifferentiallyPrivate } from '../strategies/differential-privacy.js';
import { isStatefulStrategy } from '../strategies/server-optimizer.js';
import { ExactSumAggregator } from './exact-sum.js';
import { PartialSumAggregator } from './partial-sum.js';

export interface FleetStrategyOptions {
  /**
   * Deterministic mode (`--deterministic`): sum exactly on a fixed-point grid (ExactSumAggregator),
   * so the model does not depend on which clients sit on which node nor on arrival order.
   * Refuses strategies with server state (FedAvgM, FedAdam, ...): that state lives only in the
   * leader's memory and a new leader would start it afresh (docs/explanation/fleet.md).
   */
  exact?: boolean;
}

/**
 * A strategy for a fleet: the same strategy, aggregating with PartialSumAggregator (FedAvg's
 * arithmetic, plus partial sums from other nodes), or ExactSumAggregator in deterministic mode.
 * Only strategies that aggregate by FedAvg's weighted mean qualify; robust aggregators (median,
 * trimmed mean) need every update in one place and are refused.
 */
export function fleetStrategy(inner: Strategy, options: FleetStrategyOptions = {}): Strategy {
  if (!inner || typeof inner.createAggregator !== 'function') throw new TypeError('strategy must be a Strategy');
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  if (options.exact !== undefined && typeof options.exact !== 'boolean') throw new TypeError('options.exact must be a boolean');
  // Differential privacy over FedAvg: only in central or distributed mode, where the fleet runs
  // grouped SecAgg+ and the DP strategy gets the cohort's sum (fleet/grouped-round.ts); local
  // mode would need the DP aggregator's uniform weights on every node.
  const dp = inner instanceof DifferentiallyPrivate ? inner : undefined;
  if (dp && dp.options.mode === 'local') throw new RangeError('a fleet runs differential privacy in central or distributed mode only, under secure aggregation (grouped SecAgg+)');
  if (!((dp ? dp.inner : inner).createAggregator(1) instanceof WeightedMeanAggregator)) {
    throw new RangeError(`strategy ${inner.name} does not aggregate by a weighted mean; a fleet can only run FedAvg-family strategies`);
  }
  const exact = options.exact === true;
  if (exact && isStatefulStrategy(inner)) {
    throw new RangeError(
      `strategy ${inner.name} keeps server state (optimizer buffers) that only the leader holds: a fleet in deterministic mode runs stateless strategies only (fedavg, fedprox); a new leader would restart that state and the model would differ from an uninterrupted run`,
    );
  }
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'createAggregator') return (numParams: number) => (exact ? new ExactSumAggregator(numParams) : new PartialSumAggregator(numParams));
      // On the strategy itself: methods and getters that use private (#) fields (the DP accountant).
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
