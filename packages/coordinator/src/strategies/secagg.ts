import type { Strategy } from '../strategy.js';
import { StrategyConfigError } from './errors.js';

/** True when the strategy's aggregator needs each client's update on its own. */
export function needsIndividualUpdates(strategy: Strategy): boolean {
  if (!strategy || typeof strategy !== 'object' || typeof strategy.createAggregator !== 'function') {
    throw new TypeError('strategy must implement Strategy (name, configureFit, createAggregator, aggregateFit)');
  }
  const declared = (strategy as { needsIndividualUpdates?: unknown }).needsIndividualUpdates;
  if (declared === true) return true;
  // Ask the aggregator itself: a one-parameter instance is cheap and is the source of truth.
  return strategy.createAggregator(1).needsIndividualUpdates === true;
}

/**
 * Throws a StrategyConfigError (code STRATEGY_INCOMPATIBLE) when `strategy` cannot run under
 * secure aggregation. SecAgg only ever reveals the sum of the clients' (weighted) updates, so a
 * strategy can use the weighted mean and anything computed from it (FedAvg, FedProx, FedAvgM,
 * FedAdam, FedYogi, FedAdagrad) but not a statistic that needs each update (median, trimmed mean,
 * Krum...). Call it when the coordinator starts with secure aggregation enabled.
 */
export function assertSecAggCompatible(strategy: Strategy): void {
  if (!needsIndividualUpdates(strategy)) return;
  throw new StrategyConfigError(
    'STRATEGY_INCOMPATIBLE',
    `strategy "${strategy.name}" cannot run with secure aggregation: secure aggregation reveals only the sum of the clients' updates, ` +
      `and "${strategy.name}" needs each client's update on its own (a coordinate-wise median or trimmed mean sorts the individual values of every parameter). ` +
      `Use a mean-based strategy (fedavg, fedprox, fedavgm, fedadam, fedyogi, fedadagrad) with secure aggregation, or turn secure aggregation off to use robust aggregation ` +
      `(the coordinator then sees every update; consider DP clipping to bound each client's influence instead).`,
    { strategy: strategy.name },
  );
}
