import { FlockError } from '@flock/protocol';
import type { AggregateResult } from '../aggregator.js';
import { PartialSumAggregator } from './partial-sum.js';

/** Fixed-point grid: every weighted value w·Δ is rounded to a multiple of 2^-EXACT_SUM_BITS. */
export const EXACT_SUM_BITS = 40;
const SCALE = 2 ** EXACT_SUM_BITS;
/** The low limb holds [0, 2^32); the high limb counts units of 2^32. */
const LO = 2 ** 32;
const INV_LO = 2 ** -32;
/** Bound on the high limb: two of them add exactly (|a + b| < 2^53), carries included. */
const HI_LIMIT = 2 ** 52;
/** Largest |Σ w·Δ| per coordinate the exact sum holds: 2^52 · 2^32 / 2^40 = 2^44. */
export const EXACT_SUM_RANGE = (HI_LIMIT * LO) / SCALE;

function overflow(what: string, index: number): FlockError {
  return new FlockError(
    'SUM_OVERFLOW',
    `${what}: value ${index} leaves the exact sum's range (|sum of weight x value| must stay below 2^44 per parameter in deterministic mode); nothing was added`,
    { index, range: EXACT_SUM_RANGE },
  );
}

/**
 * FedAvg's weighted sum made exact and order-independent, for a fleet in deterministic mode
 * (docs/explanation/fleet.md, "Deterministic mode"). Each weighted value w·Δᵢ is rounded once to
 * the fixed-point grid 2^-40 (a function of that one value only), and the integers
 * round(w·Δᵢ·2^40) are added exactly in two float64 limbs per parameter: hi·2^32 + lo with
 * lo in [0, 2^32) and |hi| < 2^52. Integer additions that stay below 2^53 are exact, hence
 * associative and commutative: the sum, every node's partial and the merged sum are the same
 * whichever clients sit on which node and in whatever order updates and partials arrive. A value
 * or a sum that would leave the range (|Σ w·Δ| ≥ 2^44 for one parameter) is refused with
 * SUM_OVERFLOW and changes nothing; exactness is never given up silently.
 *
 * Weights must be integers (example counts, capped by the integer maxExampleWeight), so their
 * total is exact too. A partial travels as 2·numParams float64: the high limbs, then the low ones.
 */
export class ExactSumAggregator extends PartialSumAggregator {
  /** The sum is exact: the order of add() and addPartial() calls cannot change a bit. */
  readonly orderIndependent = true;
  /** The low limbs; the inherited `sum` holds the high limbs. */
  private readonly lo: Float64Array;

  constructor(numParams: number) {
    super(numParams);
    this.lo = new Float64Array(numParams);
  }

  override add(_clientId: string, delta: Float32Array, weight: number): void {
    if (!(delta instanceof Float32Array)) throw new TypeError('delta must be a Float32Array');
    if (delta.length !== this.sum.length) throw new RangeError(`delta has ${delta.length} values; expected ${this.sum.length}`);
    if (!Number.isSafeInteger(weight) || weight <= 0) throw new RangeError('weight must be a positive integer (an example count) in deterministic mode');
    const hi = this.sum;
    const lo = this.lo;
    for (let i = 0; i < hi.length; i++) {
      const t = Math.round(weight * delta[i]! * SCALE);
      const th = Math.floor(t * INV_LO);
      let h = hi[i]! + th;
      let l = lo[i]! + (t - th * LO);
      if (l >= LO) {
        l -= LO;
        h += 1;
      }
      if (!(Math.abs(h) < HI_LIMIT)) {
        // Undo what this update added so far (exact: integer arithmetic), then refuse it.
        for (let j = 0; j < i; j++) {
          const u = Math.round(weight * delta[j]! * SCALE);
          const uh = Math.floor(u * INV_LO);
          this.sub(j, uh, u - uh * LO);
        }
        throw overflow('update', i);
      }
      hi[i] = h;
      lo[i] = l;
    }
    this.totalWeight += weight;
    this.reports++;
  }

  /** Adds another node's partial (2·numParams limbs, as partial() gives them). */
  override addPartial(sum: Float64Array, weight: number, count: number): void {
    if (!(sum instanceof Float64Array)) throw new TypeError('sum must be a Float64Array');
    const n = this.sum.length;
    if (sum.length !== 2 * n) {
      throw new RangeError(`sum has ${sum.length} values; an exact (deterministic-mode) partial has ${2 * n}: every node of the fleet must run with --deterministic, or none`);
    }
    if (!Number.isSafeInteger(weight) || weight < 0) throw new RangeError('weight must be an integer >= 0 in deterministic mode');
    if (!Number.isInteger(count) || count < 0) throw new RangeError('count must be an integer >= 0');
    for (let i = 0; i < n; i++) {
      const h = sum[i]!;
      const l = sum[n + i]!;
      if (!Number.isInteger(h) || !(Math.abs(h) < HI_LIMIT) || !Number.isInteger(l) || l < 0 || l >= LO) throw new RangeError(`sum: value ${i} is not a fixed-point limb pair`);
    }
    const hi = this.sum;
    const lo = this.lo;
    for (let i = 0; i < n; i++) {
      let h = hi[i]! + sum[i]!;
      let l = lo[i]! + sum[n + i]!;
      if (l >= LO) {
        l -= LO;
        h += 1;
      }
      if (!(Math.abs(h) < HI_LIMIT)) {
        for (let j = 0; j < i; j++) this.sub(j, sum[j]!, sum[n + j]!);
        throw overflow('partial', i);
      }
      hi[i] = h;
      lo[i] = l;
    }
    this.totalWeight += weight;
    this.reports += count;
  }

  /** The limbs to ship (a copy: high limbs, then low limbs), weight total and count. */
  override partial(): { sum: Float64Array; weightTotal: number; count: number } {
    const n = this.sum.length;
    const out = new Float64Array(2 * n);
    out.set(this.sum, 0);
    out.set(this.lo, n);
    return { sum: out, weightTotal: this.totalWeight, count: this.reports };
  }

  /** The exact sum of parameter i, rounded once to float64 (whatever limbs represent it). */
  value(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.sum.length) throw new RangeError(`i must be an integer in 0..${this.sum.length - 1}`);
    return (this.sum[i]! * LO + this.lo[i]!) / SCALE;
  }

  override result(): AggregateResult {
    if (this.reports === 0) throw new FlockError('TOO_FEW_REPORTS', 'no updates to aggregate');
    const mean = new Float32Array(this.sum.length);
    const w = this.totalWeight;
    // hi·2^32 exact, + lo rounds the exact integer once (the same float64 for every split of it
    // into limbs), ·2^-40 exact: the mean depends on the exact sum and the weight total only.
    for (let i = 0; i < mean.length; i++) mean[i] = (this.sum[i]! * LO + this.lo[i]!) / SCALE / w;
    return { meanDelta: mean, totalWeight: w, count: this.reports };
  }

  private sub(j: number, h: number, l: number): void {
    let nl = this.lo[j]! - l;
    let nh = this.sum[j]! - h;
    if (nl < 0) {
      nl += LO;
      nh -= 1;
    }
    this.sum[j] = nh;
    this.lo[j] = nl;
  }
}
