// Gaussian noise for a float vector from the EXACT discrete Gaussian, on a grid.
//
// Why not Box-Muller: Mironov (2012, "On Significance of the Least Significant Bits for
// Differential Privacy", CCS) showed that adding floating-point noise to a value leaks it
// through which floats the sum can land on. Here the noise is added in integers, where
// nothing is rounded: the vector is snapped to a grid of power-of-two step g (each
// coordinate rounded to the nearest multiple, a deterministic function of the input), the
// grid coordinates get independent exact discrete Gaussian noise N_Z(0, s^2)
// (discrete-gaussian.ts, Canonne, Kamath and Steinke 2020), and the result is k * g. Turning
// k * g into float32 afterwards is post-processing of an integer release.
//
// The grid and the accounting. For a vector of length d with L2 sensitivity S (real units)
// and noise multiplier sigma:
//   g  = the power of two with sigma * S / g in (2^20, 2^21]   (GRID_NOISE_UNITS = 2^21),
//   S' = S + g * sqrt(d)   (rounding moves each of two neighbouring vectors by at most
//                           g * sqrt(d) / 2, so their grid images are at most S' / g apart),
//   s  = sigma * S' / g     grid units of noise per coordinate.
// So the released integers are the discrete Gaussian mechanism with L2 sensitivity S' / g
// and noise s: noise multiplier exactly sigma, which the accountant composes. The discrete
// Gaussian has the same Renyi divergence bound as the continuous one at equal sensitivity
// and noise: D_alpha <= alpha * ||mu||^2 / (2 s^2) for an integer shift mu (Canonne, Kamath
// and Steinke 2020). The inflation S' / S - 1
// = g sqrt(d) / S is below sigma * sqrt(d) / 2^20 (about 1e-3 at d = 1e6, sigma = 1): the
// noise is that much larger than sigma * S, never smaller. With 2^21 units the grid is coarse
// enough that k * g is exactly a float32 while |k| < 2^24 (about 8 stddevs), so what is sent
// is, coordinate for coordinate, the integer release.

import { DiscreteGaussianSampler, MAX_DISCRETE_SIGMA } from './discrete-gaussian.js';
import { checkFloat32Array, checkInteger, checkPositive } from './validate.js';

/** Target noise per coordinate in grid units: sigma * S / g lies in (GRID_NOISE_UNITS / 2, GRID_NOISE_UNITS]. */
export const GRID_NOISE_UNITS = 2 ** 21;

/** The grid and noise `addGridGaussianNoise` uses for a vector of `length` coordinates. */
export interface GridNoisePlan {
  /** The grid step g (a power of two): every output coordinate is an integer multiple of it. */
  step: number;
  /** The sensitivity the noise is calibrated to, S + g sqrt(d), in real units. */
  sensitivity: number;
  /** Noise stddev per coordinate in grid units, sigma * sensitivity / g. */
  stddev: number;
}

/** The grid plan for L2 sensitivity `sensitivity`, noise multiplier `noiseMultiplier` and `length` coordinates. */
export function planGridNoise(sensitivity: number, noiseMultiplier: number, length: number): GridNoisePlan {
  checkPositive('sensitivity', sensitivity);
  checkPositive('noiseMultiplier', noiseMultiplier);
  checkInteger('length', length, 1, 2 ** 31 - 1);
  const step = 2 ** Math.ceil(Math.log2((noiseMultiplier * sensitivity) / GRID_NOISE_UNITS));
  if (!(step > 0 && Number.isFinite(step))) throw new RangeError(`sensitivity: sigma * sensitivity = ${noiseMultiplier * sensitivity} is outside the range a power-of-two grid can represent`);
  const inflated = sensitivity + step * Math.sqrt(length);
  const stddev = (noiseMultiplier * inflated) / step;
  if (stddev > MAX_DISCRETE_SIGMA) {
    throw new RangeError(`noiseMultiplier: sigma * sqrt(length) = ${noiseMultiplier * Math.sqrt(length)} needs more than 2^28 grid units of noise per coordinate; the discrete Gaussian sampler stops there`);
  }
  return { step, sensitivity: inflated, stddev };
}

/**
 * Adds Gaussian noise of multiplier `noiseMultiplier` for L2 sensitivity `sensitivity` to `v`
 * IN PLACE, as the exact discrete Gaussian on the grid of `planGridNoise` (see the file
 * comment): afterwards every coordinate is an integer multiple of `plan.step`. Crypto
 * randomness only. Returns the plan.
 */
export function addGridGaussianNoise(v: Float32Array, sensitivity: number, noiseMultiplier: number): GridNoisePlan {
  checkFloat32Array('v', v);
  const plan = planGridNoise(sensitivity, noiseMultiplier, Math.max(1, v.length));
  const sampler = new DiscreteGaussianSampler(plan.stddev);
  const limit = 2 ** 51; // |k| stays a safe integer with the noise added
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (!Number.isFinite(x)) throw new RangeError(`v: element ${i} is ${x}; only finite values can be noised`);
    const k = Math.round(x / plan.step); // exact: dividing by a power of two
    if (Math.abs(k) > limit) throw new RangeError(`v: element ${i} (${x}) is too large for a grid of step ${plan.step}`);
    v[i] = (k + sampler.sample()) * plan.step;
  }
  return plan;
}
