import { WeightedMeanAggregator } from '../aggregator.js';

/**
 * FedAvg's streaming weighted sum (the arithmetic of WeightedMeanAggregator: float64
 * `sum += weight * delta`), that can also take and give partial sums: a node sums its own
 * clients' updates and ships the sum; the leader adds the nodes' sums (hierarchical
 * aggregation). Memory is one float64 vector of the model size, whatever the number of
 * updates or partials.
 */
export class PartialSumAggregator extends WeightedMeanAggregator {
  /** Adds another node's partial: its weighted sum, the total of its weights, how many updates. */
  addPartial(sum: Float64Array, weight: number, count: number): void {
    if (!(sum instanceof Float64Array)) throw new TypeError('sum must be a Float64Array');
    if (sum.length !== this.sum.length) throw new RangeError(`sum has ${sum.length} values; expected ${this.sum.length}`);
    if (!(weight >= 0) || !Number.isFinite(weight)) throw new RangeError('weight must be a finite number >= 0');
    if (!Number.isInteger(count) || count < 0) throw new RangeError('count must be an integer >= 0');
    const acc = this.sum;
    for (let i = 0; i < acc.length; i++) acc[i]! += sum[i]!;
    this.totalWeight += weight;
    this.reports += count;
  }

  /** The running sum (not a copy: serialize it before adding more), weight total and count. */
  partial(): { sum: Float64Array; weightTotal: number; count: number } {
    return { sum: this.sum, weightTotal: this.totalWeight, count: this.reports };
  }

  get count(): number {
    return this.reports;
  }
}
