// L2 clipping: the step that bounds each client's contribution (the sensitivity C)
// and therefore makes Gaussian noise of stddev sigma*C meaningful.

import { checkFloat32Array, checkPositive } from './validate.js';

/**
 * L2 norm of a Float32Array, accumulated in float64 (a float32 accumulator loses ~3
 * decimal digits over a million coordinates and could understate the norm).
 * Throws RangeError on NaN/Infinity entries: a non-finite update has no bounded norm.
 */
export function l2Norm(v: Float32Array): number {
  checkFloat32Array('v', v);
  let s = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    s += x * x;
  }
  if (!Number.isFinite(s)) throw new RangeError('v: contains NaN or Infinity (or its norm overflows)');
  return Math.sqrt(s);
}

export interface ClipResult {
  /** The clipped vector (the input array itself when `inPlace`). */
  vector: Float32Array;
  /** The factor every coordinate was multiplied by (1 when not clipped). */
  factor: number;
  /** Whether the norm exceeded the clip. */
  clipped: boolean;
  /** The norm before clipping. */
  norm: number;
}

// Writing x * factor back into float32 rounds each coordinate by up to 2^-24 relative,
// which can push the norm of the result above C by that much. Shrinking the factor by
// 2^-22 more than covers it (and the ~n 2^-53 error of the float64 norm for any n below
// 10^9), so the clipped vector's true norm is <= C, as the sensitivity bound requires.
const SAFETY = 1 - 2 ** -22;

/** Scale `v` so that its L2 norm is at most `clip`. */
export function clipL2(v: Float32Array, clip: number, opts: { inPlace?: boolean } = {}): ClipResult {
  checkFloat32Array('v', v);
  checkPositive('clip', clip);
  const norm = l2Norm(v);
  const out = opts.inPlace ? v : new Float32Array(v);
  if (norm <= clip) return { vector: out, factor: 1, clipped: false, norm };
  const factor = (clip / norm) * SAFETY;
  for (let i = 0; i < out.length; i++) out[i] = out[i]! * factor;
  return { vector: out, factor, clipped: true, norm };
}
