// Adaptive clipping (Andrew, Thakkar, McMahan, Ramaswamy 2021, "Differentially Private
// Learning with Adaptive Clipping", NeurIPS). The clip C tracks a target quantile gamma
// of the update norms with a geometric update
//
//     C <- C * exp(-eta * (b_noisy - gamma)),
//
// where b is the fraction of updates that were NOT clipped (norm <= C) and b_noisy is its
// private estimate. As in TF Privacy's QuantileEstimatorQuery, each client's bit b_i in
// {0, 1} is centred to b_i - 1/2 in {-1/2, +1/2} before summing, the sum gets Gaussian
// noise N(0, sigma_b^2), and the fraction is recovered with a PUBLIC denominator, the
// expected number of updates m (q times the eligible population), not the number that
// came in (that number is itself private):
//
//     b_noisy = (sum_i (b_i - 1/2) + N(0, sigma_b^2)) / m + 1/2, clamped to [0, 1].
//
// Adding or removing one client moves the centred sum by exactly 1/2 (COUNT_SENSITIVITY),
// which is what the noise split below assumes. (With raw 0/1 bits the sensitivity is 1 and
// the split's (2 sigma_b)^-2 would understate the count's privacy cost four-fold: at z = 1,
// sigma_b = 0.6 the round's true noise multiplier would be ~0.57, not 1.)
//
// The count is a private release. Spending privacy on it is accounted by raising the update
// noise: with a total noise multiplier z and count noise sigma_b, the update sum must use
// z_delta = (z^-2 - (2 sigma_b)^-2)^(-1/2) (Andrew et al., Thm. 1; 2 sigma_b = sigma_b /
// COUNT_SENSITIVITY); see `updateNoiseMultiplier`. Then (update sum, noisy count) is one
// Gaussian mechanism with noise multiplier z, and the accountant composes z.

import { addGridGaussianNoise } from './grid-noise.js';
import { checkInteger, checkNonNegative, checkPositive, checkProbability } from './validate.js';

export interface AdaptiveClipOptions {
  /** Target fraction of unclipped updates gamma in (0, 1) (the paper uses 0.5). */
  targetQuantile: number;
  /** Learning rate eta of the geometric update (the paper uses 0.2). */
  learningRate: number;
  /** Stddev sigma_b of the Gaussian noise added to the unclipped count. */
  countNoiseStddev: number;
}

/** L2 sensitivity of the centred unclipped count under add/remove-one-client adjacency. */
export const COUNT_SENSITIVITY = 0.5;

/** One round's input to the clip update. */
export interface AdaptiveClipRound {
  /** Updates that came in under the clip (sum of the bits b_i). */
  unclipped: number;
  /** Updates that came in. */
  count: number;
  /**
   * The public denominator: the expected number of updates (sampling rate times the eligible
   * population). Never the number that came in, which depends on who took part.
   */
  expectedCount: number;
}

export interface AdaptiveClipStep {
  /** The new clip. */
  clip: number;
  /** The noisy unclipped fraction used (clamped to [0, 1]). */
  noisyFraction: number;
}

function checkOptions(opts: unknown): AdaptiveClipOptions {
  if (opts === null || typeof opts !== 'object') throw new TypeError('opts: expected an object');
  const o = opts as Record<string, unknown>;
  return {
    targetQuantile: checkProbability('opts.targetQuantile', o.targetQuantile, true, true),
    learningRate: checkPositive('opts.learningRate', o.learningRate),
    countNoiseStddev: checkNonNegative('opts.countNoiseStddev', o.countNoiseStddev),
  };
}

function checkRound(round: unknown): AdaptiveClipRound {
  if (round === null || typeof round !== 'object') throw new TypeError('round: expected an object');
  const r = round as Record<string, unknown>;
  const count = checkInteger('round.count', r.count, 1);
  return { unclipped: checkInteger('round.unclipped', r.unclipped, 0, count), count, expectedCount: checkPositive('round.expectedCount', r.expectedCount) };
}

/**
 * One adaptive-clip update from the (true) number of unclipped updates among `count`; the
 * count noise is drawn here (crypto randomness). The released statistic is the noised sum
 * of centred bits; everything else is post-processing with public values.
 */
export function adaptiveClipUpdate(clip: number, round: AdaptiveClipRound, opts: AdaptiveClipOptions): AdaptiveClipStep {
  checkPositive('clip', clip);
  const { unclipped, count, expectedCount } = checkRound(round);
  const { targetQuantile: gamma, learningRate: eta, countNoiseStddev: sigmaB } = checkOptions(opts);
  const centredSum = unclipped - count / 2;
  // The count's noise is the exact discrete Gaussian on a fine grid too (grid-noise.ts): a
  // Gaussian mechanism of sensitivity 1/2 and multiplier 2 sigma_b (stddev sigma_b, inflated
  // by the grid's negligible rounding allowance).
  let noised = centredSum;
  if (sigmaB > 0) {
    const v = Float32Array.of(centredSum); // a half-integer: exact in float32 below 2^23
    addGridGaussianNoise(v, COUNT_SENSITIVITY, sigmaB / COUNT_SENSITIVITY);
    noised = v[0]!;
  }
  const noisyFraction = Math.min(1, Math.max(0, noised / expectedCount + 0.5));
  const next = clip * Math.exp(-eta * (noisyFraction - gamma));
  return { clip: next, noisyFraction };
}

/**
 * Noise multiplier for the update sum so that (update sum, noisy count) together have
 * total noise multiplier z. Requires sigma_b > z / 2 (otherwise the count alone would
 * exceed the budget).
 */
export function updateNoiseMultiplier(z: number, countNoiseStddev: number): number {
  checkPositive('z', z);
  const sigmaB = checkPositive('countNoiseStddev', countNoiseStddev);
  const inv = z ** -2 - (2 * sigmaB) ** -2;
  if (!(inv > 0)) throw new RangeError(`countNoiseStddev: must exceed z/2 = ${z / 2}, got ${sigmaB}`);
  return inv ** -0.5;
}

/** Stateful adaptive clip, for a coordinator that updates once per round. */
export class AdaptiveClipper {
  #clip: number;
  readonly options: Readonly<AdaptiveClipOptions>;

  constructor(initialClip: number, options: AdaptiveClipOptions) {
    this.#clip = checkPositive('initialClip', initialClip);
    this.options = Object.freeze(checkOptions(options));
  }

  get clip(): number {
    return this.#clip;
  }

  /** Apply one round's unclipped count; returns the step (the new clip is stored). */
  update(round: AdaptiveClipRound): AdaptiveClipStep {
    const step = adaptiveClipUpdate(this.#clip, round, this.options);
    this.#clip = step.clip;
    return step;
  }
}
