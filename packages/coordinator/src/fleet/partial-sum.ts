import { FlockError } from '@flock/protocol';
import type { AggregateResult, UpdateAggregator } from '../aggregator.js';

/**
 * FedAvg's streaming weighted sum (the arithmetic of WeightedMeanAggregator: float64
 * `sum += weight * delta`), that can also take and give partial sums: a node sums its own
 * clients' updates and ships the sum; the leader adds the nodes' sums (hierarchical
 * aggregation). Memory is one float64 vector of the model size, whatever the number of
 * updates or partials.
 */
export class PartialSumAggregator implements UpdateAggregator {
  readonly needsIndividualUpdates = false;
  private readonly sum: Float64Array;
  private weight = 0;
  private n = 0;

  constructor(readonly numParams: number) {
    if (!Number.isInteger(numParams) || numParams <= 0) throw new RangeError('numParams must be a positive integer');
    this.sum = new Float64Array(numParams);
  }

  add(_clientId: string, delta: Float32Array, weight: number): void {
    if (!(delta instanceof Float32Array)) throw new TypeError('delta must be a Float32Array');
    if (delta.length !== this.sum.length) throw new RangeError(`delta has ${delta.length} values; expected ${this.sum.length}`);
    if (!(weight > 0) || !Number.isFinite(weight)) throw new RangeError('weight must be a positive finite number');
    const sum = this.sum;
    for (let i = 0; i < sum.length; i++) sum[i]! += weight * delta[i]!;
    this.weight += weight;
    this.n++;
  }

  /** Adds another node's partial: its weighted sum, the total of its weights, how many updates. */
  addPartial(sum: Float64Array, weight: number, count: number): void {
    if (!(sum instanceof Float64Array)) throw new TypeError('sum must be a Float64Array');
    if (sum.length !== this.sum.length) throw new RangeError(`sum has ${sum.length} values; expected ${this.sum.length}`);
    if (!(weight >= 0) || !Number.isFinite(weight)) throw new RangeError('weight must be a finite number >= 0');
    if (!Number.isInteger(count) || count < 0) throw new RangeError('count must be an integer >= 0');
    const acc = this.sum;
    for (let i = 0; i < acc.length; i++) acc[i]! += sum[i]!;
    this.weight += weight;
    this.n += count;
  }

  /** The running sum (not a copy: serialize it before adding more), weight total and count. */
  partial(): { sum: Float64Array; weightTotal: number; count: number } {
    return { sum: this.sum, weightTotal: this.weight, count: this.n };
  }

  get count(): number {
    return this.n;
  }

  result(): AggregateResult {
    if (this.n === 0) throw new FlockError('TOO_FEW_REPORTS', 'no updates to aggregate');
    const mean = new Float32Array(this.sum.length);
    const inv = 1 / this.weight;
    for (let i = 0; i < mean.length; i++) mean[i] = this.sum[i]! * inv;
    return { meanDelta: mean, totalWeight: this.weight, count: this.n };
  }
}
