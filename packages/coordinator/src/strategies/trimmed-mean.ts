import type { UpdateAggregator } from '../aggregator.js';
import { FedAvg } from '../strategy.js';
import { BufferedAggregator } from './buffered-aggregator.js';
import { checkKnownKeys, checkNumber, checkOptions } from './checks.js';

/** How many values are trimmed from EACH end for n values and fraction beta: floor(beta * n). */
export function trimCount(n: number, beta: number): number {
  // The epsilon absorbs float error below an integer (0.29 * 100 = 28.999999999999996 -> 29);
  // the cap keeps at least one value whatever beta < 0.5 rounds to.
  return Math.min(Math.floor(beta * n + 1e-9), Math.floor((n - 1) / 2));
}

/** Mean of sorted values with floor(beta * n) dropped at each end (beta in [0, 0.5)). */
export function trimmedMeanOfSorted(sorted: ArrayLike<number>, beta: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError('sorted must not be empty');
  const k = trimCount(n, beta);
  let sum = 0;
  for (let i = k; i < n - k; i++) sum += sorted[i]!;
  return sum / (n - 2 * k);
}

/**
 * Coordinate-wise trimmed mean (Yin et al. 2018): for each parameter, drop the floor(beta * n)
 * largest and smallest client values and average the rest (unweighted). beta in [0, 0.5);
 * beta = 0 is the unweighted mean. Tolerates up to floor(beta * n) arbitrary clients.
 * Buffers every update: O(n * m) memory.
 */
export class TrimmedMeanAggregator extends BufferedAggregator {
  readonly beta: number;

  constructor(numParams: number, beta: number) {
    super(numParams);
    this.beta = checkNumber('beta', beta, 0.1, { min: 0, below: 0.5 });
  }

  protected combineSorted(sorted: Float64Array): number {
    return trimmedMeanOfSorted(sorted, this.beta);
  }
}

export interface FedTrimmedMeanOptions {
  /** Fraction trimmed from each end per coordinate, in [0, 0.5) (default 0.1). */
  beta?: number;
}

/**
 * FedTrimmedMean: new model = global + coordinate-wise trimmed mean of the deltas. Needs
 * individual updates, so it cannot run under secure aggregation (see `assertSecAggCompatible`).
 */
export class FedTrimmedMean extends FedAvg {
  override readonly name: string = 'trimmed-mean';
  readonly needsIndividualUpdates = true;
  readonly beta: number;

  constructor(options?: FedTrimmedMeanOptions) {
    super();
    const o = checkOptions('FedTrimmedMean options', options);
    checkKnownKeys('FedTrimmedMean', o, ['beta']);
    this.beta = checkNumber('beta', o.beta, 0.1, { min: 0, below: 0.5 });
  }

  override createAggregator(numParams: number): UpdateAggregator {
    return new TrimmedMeanAggregator(numParams, this.beta);
  }
}
