// Continuous Gaussian noise drawn from crypto randomness by the Box-Muller transform.
//
// Flock's mechanisms no longer use it: central-mode server noise, local-mode client noise
// and the adaptive clip's count noise all come from the exact discrete Gaussian on a grid
// (grid-noise.ts), distributed mode from the discrete Gaussian on the SecAgg lattice. It
// stays exported for simulations and analyses that want plain Gaussian samples.
//
// Floating-point caveat (Mironov 2012, "On Significance of the Least Significant Bits for
// Differential Privacy", CCS): a textbook float sampler does not produce a continuous
// distribution; the set of doubles it can output, and their probabilities, depend on the
// secret value it is added to, so an adversary who sees the exact float output can
// sometimes tell neighbouring inputs apart, which breaks the DP proof. Do not add its
// samples to private values that are released.

import { randomOpenUnit } from './random.js';
import { checkInteger, checkNonNegative } from './validate.js';

let spare: number | null = null;

/** One standard normal sample (Box-Muller; the second value of each pair is kept). */
export function standardNormal(): number {
  if (spare !== null) {
    const s = spare;
    spare = null;
    return s;
  }
  const u1 = randomOpenUnit(); // in (0, 1): log never sees 0
  const u2 = randomOpenUnit();
  const r = Math.sqrt(-2 * Math.log(u1));
  const th = 2 * Math.PI * u2;
  spare = r * Math.sin(th);
  return r * Math.cos(th);
}

/** One sample from N(0, sigma^2). */
export function sampleGaussian(sigma: number): number {
  checkNonNegative('sigma', sigma);
  if (sigma === 0) return 0; // not 0 * N(0,1), which is -0 half the time
  return sigma * standardNormal();
}

/** `length` independent samples from N(0, sigma^2). */
export function sampleGaussianVector(sigma: number, length: number): Float64Array {
  checkNonNegative('sigma', sigma);
  checkInteger('length', length, 0, 2 ** 31 - 1);
  const out = new Float64Array(length);
  if (sigma === 0) return out;
  for (let i = 0; i < length; i++) out[i] = sigma * standardNormal();
  return out;
}

/** Add N(0, sigma^2) noise to every coordinate of `v` in place; returns `v`. */
export function addGaussianNoise<T extends Float32Array | Float64Array>(v: T, sigma: number): T {
  if (!(v instanceof Float32Array) && !(v instanceof Float64Array)) throw new TypeError('v: expected a Float32Array or Float64Array');
  checkNonNegative('sigma', sigma);
  for (let i = 0; i < v.length; i++) v[i] = v[i]! + sigma * standardNormal();
  return v;
}
