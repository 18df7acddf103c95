// The privacy accountant: composition of Poisson-subsampled Gaussian steps in RDP, the
// (epsilon, delta) it implies, and the inverse (noise multiplier for a target epsilon).
//
// RdpAccountant stores the *events* (q, sigma, steps) rather than an RDP vector, so the
// order grid and conversion can be chosen when epsilon is asked for, and the persisted
// JSON stays meaningful if the default grid changes. Per-(q, sigma) RDP vectors are
// cached because a federation usually repeats the same (q, sigma) every round.

import { epsilonFromRdp, type Conversion, type EpsilonResult } from './conversion.js';
import { resolveOrders, type OrderGridName } from './orders.js';
import { rdpSubsampledDistributedGaussian, rdpSubsampledGaussian } from './rdp.js';
import { checkInteger, checkNonNegative, checkPositive, checkProbability } from './validate.js';

export interface AccountingOptions {
  /** A named grid (default 'dp_accounting_default') or explicit orders > 1. */
  orders?: OrderGridName | readonly number[];
  /** 'improved' (default) or 'classic'. */
  conversion?: Conversion;
}

/**
 * How a step's Poisson subsampling is accounted: 'gaussian' (default) uses the tight bound of
 * the subsampled Gaussian mechanism (Mironov, Talwar and Zhang 2019); 'general' the bound of
 * Zhu and Wang 2019 that holds for any mechanism with the Gaussian's RDP curve, needed for the
 * distributed discrete Gaussian (a sum of discrete Gaussians, ddgauss.ts). Integer orders only.
 */
export type Subsampling = 'gaussian' | 'general';

function rdpStep(q: number, sigma: number, alpha: number, subsampling: Subsampling): number {
  return subsampling === 'general' ? rdpSubsampledDistributedGaussian(q, sigma, alpha) : rdpSubsampledGaussian(q, sigma, alpha);
}

function checkSubsampling(name: string, v: unknown): Subsampling {
  if (v === undefined) return 'gaussian';
  if (v !== 'gaussian' && v !== 'general') throw new RangeError(`${name}: 'gaussian' or 'general', got ${String(v)}`);
  return v;
}

export interface ComputeEpsilonParams extends AccountingOptions {
  /** Poisson sampling rate in [0, 1]. */
  q: number;
  /** Noise multiplier: Gaussian stddev divided by the L2 sensitivity (clip norm). */
  sigma: number;
  /** Number of compositions (rounds / steps). */
  steps: number;
  /** Target delta in (0, 1). */
  delta: number;
  /** Default 'gaussian'; 'general' for the distributed discrete Gaussian. */
  subsampling?: Subsampling;
}

export interface ComputeSigmaParams extends AccountingOptions {
  epsilon: number;
  q: number;
  steps: number;
  delta: number;
  subsampling?: Subsampling;
}

/** One accounted event: `steps` applications at sampling rate q, noise multiplier sigma. */
export interface AccountantEvent {
  q: number;
  sigma: number;
  steps: number;
  /** Absent: 'gaussian'. */
  subsampling?: 'general';
}

export interface RdpAccountantJSON {
  version: 1;
  events: AccountantEvent[];
}

/** (epsilon, delta) of `steps` Poisson-subsampled Gaussian steps. */
export function computeEpsilon(params: ComputeEpsilonParams): EpsilonResult {
  if (params === null || typeof params !== 'object') throw new TypeError('params: expected an object');
  const q = checkProbability('q', params.q, false, false);
  const sigma = checkNonNegative('sigma', params.sigma);
  const steps = checkInteger('steps', params.steps, 0);
  const delta = checkProbability('delta', params.delta, true, true);
  const orders = resolveOrders(params.orders);
  const subsampling = checkSubsampling('subsampling', params.subsampling);
  const rdp = orders.map((a) => (steps === 0 ? 0 : steps * rdpStep(q, sigma, a, subsampling)));
  return epsilonFromRdp(orders, rdp, delta, params.conversion ?? 'improved');
}

/**
 * The smallest noise multiplier (to a relative precision of 1e-9) whose epsilon is <=
 * the target, found by bisection (epsilon is decreasing in sigma). Returns the sigma and
 * the epsilon actually achieved there, which is always <= the target.
 */
export function computeSigma(params: ComputeSigmaParams): { sigma: number; epsilon: number } {
  if (params === null || typeof params !== 'object') throw new TypeError('params: expected an object');
  const target = checkPositive('epsilon', params.epsilon);
  const q = checkProbability('q', params.q, true, false);
  const steps = checkInteger('steps', params.steps, 1);
  const delta = checkProbability('delta', params.delta, true, true);
  const orders = resolveOrders(params.orders);
  const conversion = params.conversion ?? 'improved';
  const subsampling = checkSubsampling('subsampling', params.subsampling);
  const eps = (sigma: number): number => computeEpsilon({ q, sigma, steps, delta, orders, conversion, subsampling }).epsilon;

  // Bracket: grow hi until it satisfies the target; lo never does.
  let hi = 1;
  let epsHi = eps(hi);
  let lo = 0;
  while (epsHi > target) {
    lo = hi;
    hi *= 2;
    if (hi > 1e6) throw new RangeError(`epsilon: target ${target} needs a noise multiplier above 1e6 (check q, steps, delta)`);
    epsHi = eps(hi);
  }
  if (lo === 0) {
    // Shrink towards 0 while still satisfied, so bisection starts from a valid bracket.
    lo = hi / 2;
    while (lo > 1e-6 && eps(lo) <= target) {
      hi = lo;
      lo /= 2;
    }
    epsHi = eps(hi);
  }
  while (hi - lo > 1e-9 * hi) {
    const mid = (lo + hi) / 2;
    const e = eps(mid);
    if (e <= target) {
      hi = mid;
      epsHi = e;
    } else {
      lo = mid;
    }
  }
  return { sigma: hi, epsilon: epsHi };
}

function validateEvent(e: unknown, where: string): AccountantEvent {
  if (e === null || typeof e !== 'object') throw new TypeError(`${where}: expected an object`);
  const o = e as Record<string, unknown>;
  const subsampling = checkSubsampling(`${where}.subsampling`, o.subsampling);
  return {
    q: checkProbability(`${where}.q`, o.q, false, false),
    sigma: checkNonNegative(`${where}.sigma`, o.sigma),
    steps: checkInteger(`${where}.steps`, o.steps, 0),
    ...(subsampling === 'general' ? { subsampling } : {}),
  };
}

/** Accumulates steps with possibly different (q, sigma) and reports the total epsilon. */
export class RdpAccountant {
  #events: AccountantEvent[] = [];
  #cache = new Map<string, number>();

  /**
   * Record `steps` applications of the mechanism with sampling rate q and multiplier sigma;
   * `subsampling: 'general'` for the distributed discrete Gaussian (see Subsampling).
   */
  compose(q: number, sigma: number, steps = 1, subsampling: Subsampling = 'gaussian'): this {
    const ev = validateEvent({ q, sigma, steps, subsampling }, 'event');
    if (ev.steps === 0) return this;
    const last = this.#events[this.#events.length - 1];
    if (last && last.q === ev.q && last.sigma === ev.sigma && last.subsampling === ev.subsampling) last.steps += ev.steps;
    else this.#events.push(ev);
    return this;
  }

  /** Total number of composed steps. */
  get steps(): number {
    return this.#events.reduce((s, e) => s + e.steps, 0);
  }

  /** A copy of the recorded events (consecutive identical events are merged). */
  get events(): AccountantEvent[] {
    return this.#events.map((e) => ({ ...e }));
  }

  #rdpOne(q: number, sigma: number, a: number, subsampling: Subsampling): number {
    const key = `${q}|${sigma}|${a}|${subsampling}`;
    let v = this.#cache.get(key);
    if (v === undefined) {
      v = rdpStep(q, sigma, a, subsampling);
      this.#cache.set(key, v);
    }
    return v;
  }

  /** Total RDP at each order. */
  rdp(orders: readonly number[]): number[] {
    return orders.map((a) => this.#events.reduce((s, e) => s + e.steps * this.#rdpOne(e.q, e.sigma, a, e.subsampling ?? 'gaussian'), 0));
  }

  /** (epsilon, delta)-DP of everything composed so far. */
  epsilon(delta: number, opts: AccountingOptions = {}): EpsilonResult {
    checkProbability('delta', delta, true, true);
    const orders = resolveOrders(opts.orders);
    return epsilonFromRdp(orders, this.rdp(orders), delta, opts.conversion ?? 'improved');
  }

  toJSON(): RdpAccountantJSON {
    return { version: 1, events: this.events };
  }

  static fromJSON(json: unknown): RdpAccountant {
    if (json === null || typeof json !== 'object') throw new TypeError('json: expected an object');
    const o = json as Record<string, unknown>;
    if (o.version !== 1) throw new RangeError(`json.version: unsupported ${String(o.version)}`);
    if (!Array.isArray(o.events)) throw new TypeError('json.events: expected an array');
    const acc = new RdpAccountant();
    o.events.forEach((e, i) => {
      const ev = validateEvent(e, `json.events[${i}]`);
      acc.compose(ev.q, ev.sigma, ev.steps, ev.subsampling ?? 'gaussian');
    });
    return acc;
  }
}
