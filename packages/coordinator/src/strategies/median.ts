import type { UpdateAggregator } from '../aggregator.js';
import { FedAvg } from '../strategy.js';
import { BufferedAggregator } from './buffered-aggregator.js';

/** Median of values sorted ascending; the mean of the two middle values for an even count. */
export function medianOfSorted(sorted: ArrayLike<number>): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError('sorted must not be empty');
  const mid = n >> 1;
  return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Coordinate-wise median (Yin et al. 2018, "Byzantine-Robust Distributed Learning"): each
 * parameter's update is the median of the clients' values for it, unweighted. Tolerates fewer
 * than half of the clients sending arbitrary values. Buffers every update: O(n * m) memory.
 */
export class CoordinateMedianAggregator extends BufferedAggregator {
  protected combineSorted(sorted: Float64Array): number {
    return medianOfSorted(sorted);
  }
}

/**
 * FedMedian: new model = global + coordinate-wise median of the deltas. Needs individual updates,
 * so it cannot run under secure aggregation (see `assertSecAggCompatible`).
 */
export class FedMedian extends FedAvg {
  override readonly name: string = 'median';
  readonly needsIndividualUpdates = true;

  override createAggregator(numParams: number): UpdateAggregator {
    return new CoordinateMedianAggregator(numParams);
  }
}
