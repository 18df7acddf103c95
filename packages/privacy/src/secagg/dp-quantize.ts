// Quantization for differential privacy under secure aggregation, after Kairouz, Liu and
// Steinke 2021, "The Distributed Discrete Gaussian Mechanism for Federated Learning with
// Secure Aggregation" (ICML; arXiv 2102.06387), Section 4 and Algorithm 1, without the random
// rotation (Flock bounds every coordinate by the L2 clip instead, see the overflow bound):
//
//   1. the client's update x is clipped to L2 norm C (model units);
//   2. it is scaled by s (lattice units per model unit): c = C s is the clip on the lattice;
//   3. conditional randomized rounding: every coordinate rounds up with probability
//      frac(s x_i) (crypto randomness), and the WHOLE rounding is repeated until the rounded
//      vector z has ||z||_2 <= Delta2, the inflated bound of the paper (Section 4.1):
//        Delta2^2 = min( c^2 + d/4 + sqrt(2 ln(1/beta)) (c + sqrt(d)/2),  (c + sqrt(d))^2 )
//      One unconditioned rounding meets the first bound with probability >= 1 - beta; the
//      second holds always. beta = exp(-0.5), the paper's choice: an attempt succeeds with
//      probability >= 0.39 (in practice at once). Every encoding an honest client sends has
//      norm <= Delta2: THAT is the sensitivity the noise and the accountant are calibrated to;
//   4. distributed mode: the client adds N_Z(0, (sigma Delta2)^2 / t) to every coordinate
//      (t = the SecAgg threshold, the guaranteed number of survivors);
//   5. the uint32 ring Z_2^32 is the paper's modular clipping with m = 2^32.
//
// No weights under DP: the encoding is the update alone (no weight element), so no client can
// scale its own contribution or the denominator; the server divides by a public constant.
//
// The scale (overflow, the paper's modular clipping analysis, Section 4.2): the decoded sum
// must lie in [-(2^31 - 1), 2^31 - 1] or it wraps around and cannot be told from a correct
// value. With n clients, |z_i| <= ceil(c) per client (|x_i| <= ||x|| <= C) and the noise of up
// to n survivors is sub-Gaussian with parameter sigma_tot = sigma Delta2 sqrt(n / t) (a sum
// of discrete Gaussians; Canonne, Kamath and Steinke 2020), so with
//   k = sqrt(2 ln(2 d / p))
// every one of the d coordinates stays in range except with probability <= p when
//   n ceil(c) + k sigma_tot <= 2^31 - 1.
// Using ceil(c) <= c + 1 and Delta2 <= c + sqrt(d), the largest c that meets it is
//   c = (2^31 - 1 - n - k sigma sqrt(n/t) sqrt(d)) / (n + k sigma sqrt(n/t))
// (also capped so the per-client stddev stays within the sampler's 2^28). p = 1e-9 per round.
// The inflation Delta2 / c is then 1 + O(d / c^2): about 1 + 3e-8 at n = 1000, d = 1e6. A
// configuration whose inflation would exceed 1.1 (or with no c >= 1 at all) is refused with
// DP_UNAVAILABLE rather than run with noise far above what the user asked for.

import { FlockError } from '@flock/protocol';
import type { PlatformCrypto } from '../platform/types.js';
import { defaultPlatform } from '../platform/default.js';
import { MAX_DISCRETE_SIGMA } from '../dp/discrete-gaussian.js';
import { distributedLocalStddev, distributedNoiseMultiplier } from '../dp/ddgauss.js';
import { checkInteger, checkNonNegative, checkPositive } from '../dp/validate.js';
import { bytesLEToU32 } from './ring.js';
import type { RealVector } from './quantize.js';

/** beta of the conditional rounding (Kairouz et al. 2021): the failure probability of one unconditioned attempt. */
export const DP_ROUNDING_BETA = Math.exp(-0.5);
/** Probability, per round, that any coordinate of the noisy sum wraps around the ring. */
export const DP_OVERFLOW_PROBABILITY = 1e-9;
/** Largest accepted Delta2 / (C s): the rounding may add at most 10 % to the noise needed. */
export const MAX_ROUNDING_INFLATION = 1.1;
/** The decoded (int32) sum must stay within +-RING_BOUND. */
export const RING_BOUND = 2 ** 31 - 1;
/** Attempts after which the conditional rounding gives up (probability < 0.61^1000 for honest input). */
const MAX_ATTEMPTS = 1000;

/**
 * Delta2, the L2 bound conditional randomized rounding enforces on a vector of L2 norm <=
 * `latticeClip` (= C s) and length `dimension` (Kairouz et al. 2021, Section 4.1).
 */
export function roundedL2Bound(latticeClip: number, dimension: number, beta: number = DP_ROUNDING_BETA): number {
  const c = checkPositive('latticeClip', latticeClip);
  const d = checkInteger('dimension', dimension, 1);
  const b = checkPositive('beta', beta);
  if (!(b < 1)) throw new RangeError(`beta: must be < 1, got ${b}`);
  const always = c + Math.sqrt(d);
  const likely = Math.sqrt(c * c + d / 4 + Math.sqrt(2 * Math.log(1 / b)) * (c + Math.sqrt(d) / 2));
  return Math.min(always, likely);
}

export interface DpQuantizationParams {
  /** L2 clip C (model units). */
  clip: number;
  /** Vector length d. */
  dimension: number;
  /** Cohort size n: the most clients whose encodings (and noise) are summed. */
  cohort: number;
  /** SecAgg threshold t: the guaranteed number of survivors (noise contributors). */
  minSurvivors: number;
  /** Noise multiplier sigma. */
  noiseMultiplier: number;
  /** true: the noise is added by the clients inside the ring (distributed mode); false: by the server after decoding (central mode). */
  distributed: boolean;
  /** Per-round wrap-around probability to guarantee (default DP_OVERFLOW_PROBABILITY). */
  overflowProbability?: number;
}

export interface DpQuantizationPlan {
  clip: number;
  dimension: number;
  /** Lattice units per model unit. */
  scale: number;
  /** Delta2: every honest encoding's L2 norm is at most this (lattice units). */
  bound: number;
  /** Delta2 / (C s), >= 1. */
  inflation: number;
  /** The L2 sensitivity of the decoded sum in model units, Delta2 / s (>= C). */
  sensitivity: number;
  /** Per-client discrete Gaussian stddev in lattice units (0 unless distributed). */
  clientStddev: number;
  /** |decoded sum coordinate| stays below this (lattice units) except with probability overflowProbability. */
  sumBound: number;
  overflowProbability: number;
  /** The noise multiplier the accountant composes for one round with this plan (<= sigma). */
  accountedNoiseMultiplier: number;
}

function unavailable(message: string, details: Record<string, unknown>): FlockError {
  return new FlockError('DP_UNAVAILABLE', message, details);
}

/** Chooses the scale (see the file comment) and everything derived from it; DP_UNAVAILABLE when no scale works. */
export function planDpQuantization(params: DpQuantizationParams): DpQuantizationPlan {
  if (params === null || typeof params !== 'object') throw new TypeError('params: expected an object');
  const C = checkPositive('clip', params.clip);
  const d = checkInteger('dimension', params.dimension, 1, 2 ** 29);
  const n = checkInteger('cohort', params.cohort, 1, 2 ** 20);
  const t = checkInteger('minSurvivors', params.minSurvivors, 1, n);
  const sigma = checkNonNegative('noiseMultiplier', params.noiseMultiplier);
  if (typeof params.distributed !== 'boolean') throw new TypeError('distributed: expected a boolean');
  const p = params.overflowProbability ?? DP_OVERFLOW_PROBABILITY;
  checkPositive('overflowProbability', p);
  if (!(p < 1)) throw new RangeError(`overflowProbability: must be < 1, got ${p}`);
  const ringSigma = params.distributed ? sigma : 0;
  const k = Math.sqrt(2 * Math.log((2 * d) / p));
  const noisePerBound = k * ringSigma * Math.sqrt(n / t); // k sigma_tot / Delta2
  let c = (RING_BOUND - n - noisePerBound * Math.sqrt(d)) / (n + noisePerBound);
  if (ringSigma > 0) {
    // The per-client stddev sigma Delta2 / sqrt(t) <= sigma (c + sqrt(d)) / sqrt(t) must stay within the sampler's range.
    c = Math.min(c, (MAX_DISCRETE_SIGMA * Math.sqrt(t)) / ringSigma - Math.sqrt(d));
  }
  const details = { cohort: n, dimension: d, clip: C, noiseMultiplier: sigma, minSurvivors: t };
  if (!(c >= 1)) {
    throw unavailable(`no quantization scale keeps the noisy sum of ${n} clients inside the 32-bit ring (d = ${d}, sigma = ${sigma}, t = ${t}): use a smaller cohort or fewer parameters`, details);
  }
  const bound = roundedL2Bound(c, d);
  const inflation = bound / c;
  if (inflation > MAX_ROUNDING_INFLATION) {
    throw unavailable(
      `the 32-bit ring leaves a lattice clip of only ${c.toFixed(1)} units for ${n} clients: rounding ${d} coordinates would raise the sensitivity by a factor ${inflation.toFixed(3)} (limit ${MAX_ROUNDING_INFLATION}); use a smaller cohort or fewer parameters`,
      { ...details, inflation },
    );
  }
  const scale = c / C;
  const clientStddev = ringSigma > 0 ? distributedLocalStddev(ringSigma, bound, t) : 0;
  const sumBound = n * Math.ceil(c) + k * clientStddev * Math.sqrt(n);
  const accounted = sigma > 0 && ringSigma > 0 ? distributedNoiseMultiplier({ noiseMultiplier: sigma, bound, minSummands: t, maxSummands: n, dimension: d }) : sigma;
  return { clip: C, dimension: d, scale, bound, inflation, sensitivity: bound / scale, clientStddev, sumBound, overflowProbability: p, accountedNoiseMultiplier: accounted };
}

export interface DpQuantizerOptions {
  /** L2 clip C (model units). */
  clip: number;
  /** Lattice units per model unit (from the coordinator's plan). */
  scale: number;
  /** Vector length d. */
  dimension: number;
  platform?: PlatformCrypto;
}

/** Client and server side of the DP encoding: conditional randomized rounding, no weights. */
export class DpQuantizer {
  readonly clip: number;
  readonly scale: number;
  readonly dimension: number;
  /** Delta2 in lattice units. */
  readonly bound: number;
  /** Rounding attempts made by the last `encode`. */
  lastAttempts = 0;
  private readonly platform: PlatformCrypto;

  constructor(opts: DpQuantizerOptions) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('opts must be an object');
    this.clip = checkPositive('opts.clip', opts.clip);
    this.scale = checkPositive('opts.scale', opts.scale);
    this.dimension = checkInteger('opts.dimension', opts.dimension, 1, 2 ** 29);
    this.bound = roundedL2Bound(this.clip * this.scale, this.dimension);
    this.platform = opts.platform ?? defaultPlatform();
  }

  /** x clipped to L2 norm C (float64, never above C) and scaled to the lattice. */
  private scaled(x: RealVector): Float64Array {
    if (!(x instanceof Float32Array || x instanceof Float64Array || Array.isArray(x))) throw new TypeError('x must be a Float32Array, Float64Array or number[]');
    if (x.length !== this.dimension) throw new RangeError(`x must have length ${this.dimension}, got ${x.length}`);
    let sq = 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (!Number.isFinite(v)) throw new RangeError(`x[${i}] is not finite`);
      sq += v * v;
    }
    const norm = Math.sqrt(sq);
    // (1 - 2^-40) absorbs the float64 rounding of the norm and the products below.
    const factor = norm > 0 ? this.scale * Math.min(1, (this.clip / norm) * (1 - 2 ** -40)) : 0;
    const y = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) y[i] = x[i]! * factor;
    return y;
  }

  /**
   * One rounding attempt with the given uniforms (element i rounds up iff uniforms[i] / 2^32 <
   * frac(y_i)); returns the encoding, or undefined when its norm exceeds Delta2. For
   * known-answer tests; production code calls `encode`.
   */
  roundWith(y: Float64Array, uniforms: Uint32Array): Uint32Array | undefined {
    if (!(uniforms instanceof Uint32Array) || uniforms.length !== y.length) throw new RangeError(`uniforms must be a Uint32Array of length ${y.length}`);
    const out = new Uint32Array(y.length);
    let sq = 0;
    for (let i = 0; i < y.length; i++) {
      const v = y[i]!;
      const f = Math.floor(v);
      const q = uniforms[i]! < (v - f) * 4294967296 ? f + 1 : f;
      sq += q * q;
      out[i] = q; // two's complement (ToUint32)
    }
    // The float64 sum of squares errs by < d 2^-53 relative: compare against a bound shrunk by 1e-9.
    return sq <= this.bound * this.bound * (1 - 1e-9) ? out : undefined;
  }

  /** Clip, scale and conditionally round with fresh crypto randomness (AES-256-CTR under a random key per attempt). */
  async encode(x: RealVector): Promise<Uint32Array> {
    const y = this.scaled(x);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const key = this.platform.randomBytes(32);
      const bytes = await this.platform.aes256Ctr(key, new Uint8Array(16), 4 * y.length);
      key.fill(0);
      const out = this.roundWith(y, bytesLEToU32(bytes));
      if (out) {
        this.lastAttempts = attempt;
        y.fill(0);
        return out;
      }
    }
    throw new RangeError(`conditional rounding failed ${MAX_ATTEMPTS} times (Delta2 = ${this.bound}): the input is not clipped as declared`);
  }

  /** The clipped, scaled vector `encode` rounds (lattice units), for tests. */
  latticeVector(x: RealVector): Float64Array {
    return this.scaled(x);
  }

  /** Decodes a ring sum of encodings (read as int32) to the sum in model units. */
  decode(sum: Uint32Array): Float64Array {
    if (!(sum instanceof Uint32Array)) throw new TypeError('sum must be a Uint32Array');
    if (sum.length !== this.dimension) throw new RangeError(`sum must have length ${this.dimension}, got ${sum.length}`);
    const signed = new Int32Array(sum.buffer, sum.byteOffset, sum.length);
    const out = new Float64Array(sum.length);
    const inv = 1 / this.scale;
    for (let i = 0; i < out.length; i++) out[i] = signed[i]! * inv;
    return out;
  }
}
