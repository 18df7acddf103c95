import { defaultThreshold, assertThreshold } from './shamir.js';

export interface SecAggParameters {
  /** Graph degree requested (neighbourhood size). */
  k: number;
  /** Shamir threshold. */
  t: number;
  /** Dropouts tolerated per neighbourhood over the whole round: k_eff - t. */
  tolerance: number;
  /** True when every client is every other client's neighbour (n <= k + 1). */
  full: boolean;
}

/**
 * Round parameters for a cohort of `cohortSize` clients: k defaults to the full graph
 * (n - 1, at most 255); t defaults to ceil(2k/3) for the effective degree. Fix them in the
 * round configuration: clients and server must use the same values.
 */
export function secAggParameters(opts: { cohortSize: number; k?: number; t?: number }): SecAggParameters {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('opts must be an object');
  const { cohortSize } = opts;
  if (typeof cohortSize !== 'number' || !Number.isInteger(cohortSize)) throw new TypeError('opts.cohortSize must be an integer');
  if (cohortSize < 3) throw new RangeError('opts.cohortSize must be >= 3');
  const kReq = opts.k ?? Math.min(cohortSize - 1, 255);
  if (typeof kReq !== 'number' || !Number.isInteger(kReq)) throw new TypeError('opts.k must be an integer');
  if (kReq < 2 || kReq > 255) throw new RangeError('opts.k must be in [2, 255]');
  let kEff = kReq;
  if ((cohortSize * kEff) % 2 === 1) kEff += 1;
  const full = cohortSize <= kEff + 1;
  if (full) kEff = cohortSize - 1;
  if (kEff > 255) throw new RangeError('a full graph over more than 256 clients is not supported; set opts.k');
  const t = opts.t ?? defaultThreshold(kEff);
  assertThreshold(kEff, t);
  return { k: full ? kEff : kReq, t, tolerance: kEff - t, full };
}
