// Accounting for the distributed discrete Gaussian: the sum of n independent discrete
// Gaussians N_Z(0, s^2), one per client, is close to but not exactly a discrete Gaussian.
// Kairouz, Liu and Steinke 2021 ("The Distributed Discrete Gaussian Mechanism for Federated
// Learning with Secure Aggregation", ICML; arXiv 2102.06387) bound the gap with
//   tau = 10 * sum_{k=1}^{n-1} exp(-2 pi^2 s^2 k / (k + 1))            (Theorem 1)
// and (Proposition 14, third term) show the mechanism with L2 sensitivity Delta2 (lattice
// units) satisfies, at every Renyi order alpha,
//   D_alpha <= alpha/2 * (Delta2 / (sqrt(n) s) + sqrt(d) tau)^2
// which is the Renyi curve of a Gaussian with noise multiplier
//   sigma_eff = 1 / (Delta2 / (sqrt(n) s) + sqrt(d) tau).
// Flock composes sigma_eff in the RDP accountant. n is the number of summands the noise is
// guaranteed to come from (the SecAgg threshold t: fewer survivors abort the round); tau is
// taken at the cohort size, its largest value, since more survivors only add terms.
// With Flock's calibration (s = sigma * Delta2 / sqrt(t), thousands of lattice units or
// more) tau underflows to 0 and sigma_eff = sigma exactly.
//
// Subsampling: the accountant applies the Poisson-subsampled Gaussian bound (Mironov, Talwar
// and Zhang 2019) to this Gaussian-shaped curve, as for the continuous mechanism. For the
// discrete sum this last step is the standard approximation, not a theorem: Kairouz et al.'s
// own accounting amplifies with the general subsampling bound, which gives larger epsilons at
// small q. docs/explanation/differential-privacy.md says so.

import { checkInteger, checkNonNegative, checkPositive } from './validate.js';

/** tau of Kairouz et al. 2021, Theorem 1, for n summands of per-client stddev `localStddev` (lattice units). */
export function distributedGaussianTau(localStddev: number, summands: number): number {
  const s = checkPositive('localStddev', localStddev);
  const n = checkInteger('summands', summands, 1);
  // k / (k + 1) grows with k, so the terms shrink: the first, exp(-pi^2 s^2), is the largest,
  // and once a term underflows to 0 every later one does too.
  let tau = 0;
  for (let k = 1; k < n; k++) {
    const term = Math.exp((-2 * Math.PI * Math.PI * s * s * k) / (k + 1));
    if (term === 0) break;
    tau += term;
  }
  return 10 * tau;
}

export interface DistributedNoiseParams {
  /** Noise multiplier sigma the noise was calibrated with: localStddev = sigma * bound / sqrt(minSummands). */
  noiseMultiplier: number;
  /** Enforced L2 sensitivity Delta2 of one client's encoding, lattice units. */
  bound: number;
  /** Guaranteed number of noise contributors (the SecAgg threshold t). */
  minSummands: number;
  /** Largest number of noise contributors (the cohort size). */
  maxSummands: number;
  /** Vector length d. */
  dimension: number;
}

/** Per-client discrete Gaussian stddev (lattice units): sigma * Delta2 / sqrt(t). */
export function distributedLocalStddev(noiseMultiplier: number, bound: number, minSummands: number): number {
  checkNonNegative('noiseMultiplier', noiseMultiplier);
  checkPositive('bound', bound);
  checkInteger('minSummands', minSummands, 1);
  return (noiseMultiplier * bound) / Math.sqrt(minSummands);
}

/**
 * The noise multiplier the accountant composes for one round of the distributed discrete
 * Gaussian (see the file comment): 1 / (1/sigma + sqrt(d) tau), never above sigma.
 * Throws RangeError when the per-client stddev is below 1/2 (Proposition 14 needs s >= 1/2).
 */
export function distributedNoiseMultiplier(p: DistributedNoiseParams): number {
  if (p === null || typeof p !== 'object') throw new TypeError('params: expected an object');
  const sigma = checkPositive('noiseMultiplier', p.noiseMultiplier);
  const bound = checkPositive('bound', p.bound);
  const t = checkInteger('minSummands', p.minSummands, 1);
  const n = checkInteger('maxSummands', p.maxSummands, t);
  const d = checkInteger('dimension', p.dimension, 1);
  const s = distributedLocalStddev(sigma, bound, t);
  if (s < 0.5) throw new RangeError(`noiseMultiplier: the per-client stddev ${s} is below 1/2 lattice unit, outside Kairouz et al.'s Theorem 1`);
  const tau = distributedGaussianTau(s, n);
  // min: 1 / (1 / sigma) can round above sigma in the last bit.
  return Math.min(sigma, 1 / (bound / (Math.sqrt(t) * s) + Math.sqrt(d) * tau));
}
