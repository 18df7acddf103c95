import { sampleDiscreteGaussianVector } from './discrete-gaussian.js';

/**
 * Adds discrete Gaussian noise (stddev in lattice units) to the first `count` elements of a
 * quantized vector, in Z_2^32 — the `distributed` mode's per-client share, added before masking
 * so the coordinator never holds a noise-free sum. Elements past `count` (e.g. the appended
 * weight of weighted FedAvg) are left exact.
 */
export function addLatticeNoise(vector: Uint32Array, count: number, stddev: number): void {
  if (!(vector instanceof Uint32Array)) throw new TypeError('vector must be a Uint32Array');
  if (!Number.isInteger(count) || count < 0 || count > vector.length) throw new RangeError(`count must be an integer in [0, ${vector.length}]; got ${count}`);
  if (!(stddev >= 0) || !Number.isFinite(stddev)) throw new RangeError(`stddev must be a finite number >= 0; got ${stddev}`);
  if (stddev === 0 || count === 0) return;
  const noise = sampleDiscreteGaussianVector(stddev, count);
  for (let i = 0; i < count; i++) vector[i] = (vector[i]! + noise[i]!) >>> 0;
}
