// Adaptive clipping (Andrew, Thakkar, McMahan, Ramaswamy 2021, "Differentially Private
// Learning with Adaptive Clipping", NeurIPS). The clip C tracks a target quantile gamma
// of the update norms with a geometric update
//
//     C <- C * exp(-eta * (b_noisy - gamma)),
//
// where b is the fraction of updates that were NOT clipped (norm <= C) and b_noisy is
// that fraction computed from a noisy count: (sum_i b_i + N(0, sigma_b^2)) / m.
// Sign check: if most updates are clipped, b < gamma, the exponent is positive and C
// grows; if almost none are clipped, b > gamma and C shrinks.
//
// The count is itself a private release (sensitivity 1 per client). Spending privacy on
// it is accounted by raising the update noise: with a total noise multiplier z and
// count noise sigma_b, the update sum must use z_delta = (z^-2 - (2 sigma_b)^-2)^(-1/2)
// (Andrew et al., Thm. 1); see `updateNoiseMultiplier`.

import { standardNormal } from './gaussian.js';
import { checkInteger, checkNonNegative, checkPositive, checkProbability } from './validate.js';

export interface AdaptiveClipOptions {
  /** Target fraction of unclipped updates gamma in (0, 1) (the paper uses 0.5). */
  targetQuantile: number;
  /** Learning rate eta of the geometric update (the paper uses 0.2). */
  learningRate: number;
  /** Stddev sigma_b of the Gaussian noise added to the unclipped count. */
  countNoiseStddev: number;
}

export interface AdaptiveClipStep {
  /** The new clip. */
  clip: number;
  /** The noisy unclipped fraction used (may fall outside [0, 1] because of noise). */
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

/**
 * One adaptive-clip update from the (true) number of unclipped updates among `count`.
 * The noise is drawn here; in a SecAgg round the clients' bits are summed securely and
 * this function is called on the sum by the party that adds the count noise.
 */
export function adaptiveClipUpdate(clip: number, unclippedCount: number, count: number, opts: AdaptiveClipOptions): AdaptiveClipStep {
  checkPositive('clip', clip);
  checkInteger('count', count, 1);
  checkInteger('unclippedCount', unclippedCount, 0, count);
  const { targetQuantile: gamma, learningRate: eta, countNoiseStddev: sigmaB } = checkOptions(opts);
  const noisyFraction = (unclippedCount + sigmaB * standardNormal()) / count;
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
  update(unclippedCount: number, count: number): AdaptiveClipStep {
    const step = adaptiveClipUpdate(this.#clip, unclippedCount, count, this.options);
    this.#clip = step.clip;
    return step;
  }
}
