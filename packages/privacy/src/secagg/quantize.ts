import type { PlatformCrypto } from '../platform/types.js';
import { defaultPlatform } from '../platform/default.js';
import { SecAggError } from './errors.js';
import { bytesLEToU32 } from './ring.js';

/**
 * Fixed-point encoding of real vectors into Z_2^32 for secure aggregation.
 *
 * A value x is clipped to [-clip, clip], scaled by `scale`, stochastically rounded to an
 * integer q (E[q] = x * scale) and stored as the two's-complement uint32 of q. The scale is
 * chosen so that nMax * (2 * clip) * scale = 2^31, i.e. |q| <= 2^30 / nMax + 1 and any sum of
 * at most nMax encodings lies in [-(2^30 + nMax), 2^30 + nMax], well inside int32: a sum in
 * Z_2^32 decodes exactly, with a factor-2 headroom left for distributed noise. A cohort larger
 * than nMax is refused (SECAGG_COHORT_TOO_LARGE) because its sum could wrap around.
 */
export interface QuantizerOptions {
  /** Per-coordinate clipping bound c > 0: values are clipped to [-c, c]. */
  clip: number;
  /** Largest number of summands the encoding supports (1 <= nMax <= 2^20). */
  nMax: number;
  /** Randomness for stochastic rounding (defaults to WebCrypto). */
  platform?: PlatformCrypto;
}

export const MAX_NMAX = 2 ** 20;

export type RealVector = Float32Array | Float64Array | readonly number[];

function assertRealVector(name: string, x: unknown): asserts x is RealVector {
  if (!(x instanceof Float32Array || x instanceof Float64Array || Array.isArray(x))) {
    throw new TypeError(`${name} must be a Float32Array, Float64Array or number[]`);
  }
}

export class Quantizer {
  readonly clip: number;
  readonly nMax: number;
  readonly scale: number;
  private readonly platform: PlatformCrypto;

  constructor(opts: QuantizerOptions) {
    if (typeof opts !== 'object' || opts === null) throw new TypeError('opts must be an object');
    const { clip, nMax } = opts;
    if (typeof clip !== 'number') throw new TypeError('opts.clip must be a number');
    if (!Number.isFinite(clip) || clip <= 0) throw new RangeError('opts.clip must be finite and > 0');
    if (typeof nMax !== 'number' || !Number.isInteger(nMax)) throw new TypeError('opts.nMax must be an integer');
    if (nMax < 1 || nMax > MAX_NMAX) throw new RangeError(`opts.nMax must be in [1, 2^20], got ${nMax}`);
    this.clip = clip;
    this.nMax = nMax;
    this.scale = 2 ** 31 / (nMax * 2 * clip);
    this.platform = opts.platform ?? defaultPlatform();
  }

  /** Throws SECAGG_COHORT_TOO_LARGE when n summands could overflow the ring. */
  assertCohort(n: number): void {
    if (typeof n !== 'number' || !Number.isInteger(n)) throw new TypeError('n must be an integer');
    if (n < 0) throw new RangeError('n must be >= 0');
    if (n > this.nMax) {
      throw new SecAggError('SECAGG_COHORT_TOO_LARGE', `cohort of ${n} exceeds the quantization bound nMax = ${this.nMax}`);
    }
  }

  /** Stochastic rounding with fresh cryptographic randomness (AES-CTR under a random key). */
  async encode(x: RealVector): Promise<Uint32Array> {
    assertRealVector('x', x);
    if (x.length === 0) return new Uint32Array(0);
    const key = this.platform.randomBytes(32);
    const bytes = await this.platform.aes256Ctr(key, new Uint8Array(16), 4 * x.length);
    key.fill(0);
    const uniforms = bytesLEToU32(bytes);
    return this.encodeWith(x, uniforms);
  }

  /**
   * Deterministic core of `encode`: element i rounds up iff uniforms[i] / 2^32 < frac(x_i * scale).
   * Exposed for known-answer tests; production code calls `encode`.
   */
  encodeWith(x: RealVector, uniforms: Uint32Array): Uint32Array {
    assertRealVector('x', x);
    if (!(uniforms instanceof Uint32Array)) throw new TypeError('uniforms must be a Uint32Array');
    if (uniforms.length !== x.length) throw new RangeError(`uniforms must have length ${x.length}, got ${uniforms.length}`);
    const n = x.length;
    const out = new Uint32Array(n);
    const c = this.clip;
    const s = this.scale;
    for (let i = 0; i < n; i++) {
      let v = x[i]!;
      if (v !== v || v === Infinity || v === -Infinity) throw new RangeError(`x[${i}] is not finite`);
      if (v > c) v = c;
      else if (v < -c) v = -c;
      const y = v * s;
      const f = Math.floor(y);
      // P(round up) = frac(y) up to 2^-32: compare the uniform against frac * 2^32.
      const q = uniforms[i]! < (y - f) * 4294967296 ? f + 1 : f;
      out[i] = q; // two's complement wrap (ToUint32)
    }
    return out;
  }

  /** Decodes a ring sum of encodings (as int32) back to reals: sum_i x_i ~= decode(sum). */
  decode(sum: Uint32Array): Float64Array {
    if (!(sum instanceof Uint32Array)) throw new TypeError('sum must be a Uint32Array');
    const signed = new Int32Array(sum.buffer, sum.byteOffset, sum.length);
    const out = new Float64Array(sum.length);
    const inv = 1 / this.scale;
    for (let i = 0; i < out.length; i++) out[i] = signed[i]! * inv;
    return out;
  }
}

/**
 * Weighted FedAvg under SecAgg: a client sends w * clip(delta) (quantized with bound clip * wCap)
 * followed by its integer weight w (exact, unscaled) as the last element. The server decodes the
 * weighted sum and divides by the summed weight. Weights are integers in [0, weightCap]; larger
 * values are capped (under DP keep weights uniform or capped so sensitivity stays bounded).
 */
export interface WeightedEncoderOptions {
  clip: number;
  nMax: number;
  /** Cap on the per-client weight (e.g. examples per round), integer >= 1. */
  weightCap: number;
  platform?: PlatformCrypto;
}

export interface WeightedAggregate {
  /** Weighted mean sum(w_i * delta_i) / sum(w_i). */
  mean: Float64Array;
  /** sum(w_i * delta_i). */
  weightedSum: Float64Array;
  totalWeight: number;
}

export class WeightedEncoder {
  readonly clip: number;
  readonly weightCap: number;
  readonly quantizer: Quantizer;

  constructor(opts: WeightedEncoderOptions) {
    if (typeof opts !== 'object' || opts === null) throw new TypeError('opts must be an object');
    const { weightCap } = opts;
    if (typeof weightCap !== 'number' || !Number.isInteger(weightCap)) throw new TypeError('opts.weightCap must be an integer');
    if (weightCap < 1) throw new RangeError('opts.weightCap must be >= 1');
    if (typeof opts.clip !== 'number') throw new TypeError('opts.clip must be a number');
    if (!Number.isFinite(opts.clip) || opts.clip <= 0) throw new RangeError('opts.clip must be finite and > 0');
    if (typeof opts.nMax === 'number' && opts.nMax * weightCap >= 2 ** 31) {
      throw new RangeError('opts.nMax * opts.weightCap must be < 2^31 (the summed weight must not wrap)');
    }
    this.clip = opts.clip;
    this.weightCap = weightCap;
    const q: QuantizerOptions = { clip: opts.clip * weightCap, nMax: opts.nMax };
    if (opts.platform) q.platform = opts.platform;
    this.quantizer = new Quantizer(q);
  }

  /** Length of the encoded vector for a delta of length m. */
  encodedLength(m: number): number {
    return m + 1;
  }

  /** Clip delta per coordinate, multiply by min(weight, weightCap), quantize, append the weight. */
  async encode(delta: RealVector, weight: number): Promise<Uint32Array> {
    assertRealVector('delta', delta);
    if (typeof weight !== 'number' || !Number.isInteger(weight)) throw new TypeError('weight must be an integer');
    if (weight < 0) throw new RangeError('weight must be >= 0');
    const w = Math.min(weight, this.weightCap);
    const scaled = new Float64Array(delta.length);
    const c = this.clip;
    for (let i = 0; i < delta.length; i++) {
      const v = delta[i]!;
      if (!Number.isFinite(v)) throw new RangeError(`delta[${i}] is not finite`);
      scaled[i] = (v > c ? c : v < -c ? -c : v) * w;
    }
    const q = await this.quantizer.encode(scaled);
    const out = new Uint32Array(delta.length + 1);
    out.set(q);
    out[delta.length] = w;
    return out;
  }

  /** Decode the ring sum of `encode` outputs. Throws RangeError when the total weight is 0. */
  decode(sum: Uint32Array): WeightedAggregate {
    if (!(sum instanceof Uint32Array)) throw new TypeError('sum must be a Uint32Array');
    if (sum.length < 1) throw new RangeError('sum must have length >= 1');
    const m = sum.length - 1;
    const totalWeight = sum[m]!; // < 2^31 by construction
    const weightedSum = this.quantizer.decode(sum.subarray(0, m));
    if (totalWeight === 0) throw new RangeError('total weight is 0: nothing to average');
    const mean = new Float64Array(m);
    for (let i = 0; i < m; i++) mean[i] = weightedSum[i]! / totalWeight;
    return { mean, weightedSum, totalWeight };
  }
}
