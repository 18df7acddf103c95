import { FlockError } from '@flock/protocol';
import { WeightedMeanAggregator, type AggregateResult } from '../aggregator.js';

/**
 * Grouped SecAgg+ under differential privacy (fleet/grouped-round.ts): the merged sum of the
 * groups' decoded sums is released to the DP strategy as one secure aggregate, with the
 * sensitivity and accounted noise multiplier of the whole cohort's quantization plan.
 * `minCount`: distributed mode, the survivors the clients' noise shares were calibrated to.
 */
export interface CohortPrivacy {
  sensitivity: number;
  accountedNoiseMultiplier: number;
  minCount: number;
}

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

  private privacy: CohortPrivacy | undefined;

  /** Grouped SecAgg+ under DP: result() releases the sum as a privacy aggregate (see CohortPrivacy). */
  calibrate(privacy: CohortPrivacy): void {
    if (!privacy || !(privacy.sensitivity > 0) || !(privacy.accountedNoiseMultiplier >= 0) || !Number.isInteger(privacy.minCount) || privacy.minCount < 0) {
      throw new RangeError('privacy must have sensitivity > 0, accountedNoiseMultiplier >= 0 and an integer minCount >= 0');
    }
    this.privacy = privacy;
  }

  /**
   * The weighted mean; under DP (calibrate()) also the sum, its sensitivity and accounted noise.
   * Distributed mode with fewer summands than the noise was calibrated to: DP_UNAVAILABLE, as
   * the sum would carry less than sigma times the sensitivity (nothing is released).
   */
  override result(): AggregateResult {
    const r = super.result();
    const p = this.privacy;
    if (!p) return r;
    if (this.reports < p.minCount) {
      throw new FlockError('DP_UNAVAILABLE', `the groups' sums hold ${this.reports} updates; the distributed noise was calibrated to at least ${p.minCount} (a group aborted or its node was lost): nothing is released`, {
        reason: 'too-few-summands',
        summands: this.reports,
        calibratedFor: p.minCount,
      });
    }
    return { ...r, privacy: { sum: Float64Array.from(this.sum), sensitivity: p.sensitivity, accountedNoiseMultiplier: p.accountedNoiseMultiplier } };
  }

  /** The running sum (not a copy: serialize it before adding more), weight total and count. */
  partial(): { sum: Float64Array; weightTotal: number; count: number } {
    return { sum: this.sum, weightTotal: this.totalWeight, count: this.reports };
  }

  get count(): number {
    return this.reports;
  }
}
