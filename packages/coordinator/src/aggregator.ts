import { FlockError } from '@flock/protocol';

/** What an aggregator produces at the end of a round. */
export interface AggregateResult {
  /** Weighted mean of the client deltas (float32, spec order). */
  meanDelta: Float32Array;
  /** Sum of the client weights (example counts, possibly capped). */
  totalWeight: number;
  /** Number of updates that went in. */
  count: number;
  /**
   * Secure aggregation under differential privacy (central or distributed mode): the decoded
   * SUM of the updates (model units, weights ignored: every update counts once) with the L2
   * sensitivity the rounding enforced and the noise multiplier the accountant must compose for
   * this round. `meanDelta` is then only sum / count; the DP strategy releases the sum over a
   * public denominator instead.
   */
  privacy?: { sum: Float64Array; sensitivity: number; accountedNoiseMultiplier: number } | undefined;
}

/** Consumes validated client deltas one by one; one instance per round. */
export interface UpdateAggregator {
  /** True when the aggregator needs each update on its own (robust aggregators); such aggregators cannot run under secure aggregation. */
  readonly needsIndividualUpdates: boolean;
  /**
   * Optional: true when result() is bit-for-bit the same whatever the order of add() calls
   * (the fleet's exact sum). Deterministic order then need not hold updates until the round ends.
   */
  readonly orderIndependent?: boolean;
  add(clientId: string, delta: Float32Array, weight: number): void;
  result(): AggregateResult;
}

/**
 * FedAvg's weighted mean as a streaming sum: memory is one float64 accumulator of the model
 * size, whatever the number of clients. Sums run in float64 so the order of arrival barely
 * matters; the coordinator also feeds updates in client-id order for bit-reproducible runs.
 */
export class WeightedMeanAggregator implements UpdateAggregator {
  readonly needsIndividualUpdates = false;
  protected readonly sum: Float64Array;
  protected totalWeight = 0;
  protected reports = 0;

  constructor(readonly numParams: number) {
    if (!Number.isInteger(numParams) || numParams <= 0) throw new RangeError('numParams must be a positive integer');
    this.sum = new Float64Array(numParams);
  }

  add(_clientId: string, delta: Float32Array, weight: number): void {
    if (!(delta instanceof Float32Array)) throw new TypeError('delta must be a Float32Array');
    if (delta.length !== this.sum.length) throw new RangeError(`delta has ${delta.length} values; expected ${this.sum.length}`);
    if (!(weight > 0) || !Number.isFinite(weight)) throw new RangeError('weight must be a positive finite number');
    const sum = this.sum;
    const n = sum.length;
    const n4 = n - (n % 4);
    let i = 0;
    // Four at a time (~1.3-1.6x faster in V8, which does not vectorise); the same operations, so the same sums.
    for (; i < n4; i += 4) {
      sum[i]! += weight * delta[i]!;
      sum[i + 1]! += weight * delta[i + 1]!;
      sum[i + 2]! += weight * delta[i + 2]!;
      sum[i + 3]! += weight * delta[i + 3]!;
    }
    for (; i < n; i++) sum[i]! += weight * delta[i]!;
    this.totalWeight += weight;
    this.reports++;
  }

  result(): AggregateResult {
    if (this.reports === 0) throw new FlockError('TOO_FEW_REPORTS', 'no updates to aggregate');
    const mean = new Float32Array(this.sum.length);
    const inv = 1 / this.totalWeight;
    for (let i = 0; i < mean.length; i++) mean[i] = this.sum[i]! * inv;
    return { meanDelta: mean, totalWeight: this.totalWeight, count: this.reports };
  }
}
