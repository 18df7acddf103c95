import { assertThreshold, minThreshold } from './shamir.js';

/**
 * SecAgg+ round parameters from Bell, Bonawitz, Gascón, Lepoint, Raykova 2020, "Secure
 * Single-Server Aggregation with (Poly)Logarithmic Overhead" (Theorem 3.6), for the graph this
 * engine uses: a Harary circulant whose positions are assigned by a uniform permutation
 * (graph.ts). For a cohort of n, a corruption bound gamma (fraction of clients the adversary
 * controls, besides the coordinator) and a dropout bound delta (fraction that may drop during
 * the round), the smallest even degree k is chosen such that, except with probability
 * 2^-sigma (security) resp. 2^-eta (correctness), summed over all clients:
 *
 *  1. the honest survivors stay connected (no isolated group whose sum the coordinator could
 *     read): disconnecting a circulant of even degree k takes k/2 consecutive removed positions
 *     in two places, bounded by (n (n - k - 1) / 2) * (B)_k / (n)_k with B = corrupt + dropped;
 *  2. no honest client has t or more corrupt neighbours, and 2t > k + (its corrupt neighbours)
 *     (the coordinator may tell different clients different dropout stories; the strict
 *     majority keeps it from collecting both kinds of shares of one client): a hypergeometric
 *     upper tail at 2^-(sigma+1) / n per client;
 *  3. every client keeps at least t surviving neighbours (the sum can be unmasked): a
 *     hypergeometric lower tail at 2^-eta / n per client.
 *
 * t is the smallest threshold meeting 2 (the largest margin for robust decoding, shamir.ts).
 * When no sparse degree qualifies the full graph is used (k = n - 1) with the same conditions.
 */
export interface SecAggParameters {
  /** Graph degree requested (neighbourhood size); even unless the graph is full or k was set. */
  k: number;
  /** Shamir threshold. */
  t: number;
  /** Dropouts tolerated per neighbourhood over the whole round: k_eff - t. */
  tolerance: number;
  /** True when every client is every other client's neighbour (n <= k + 1). */
  full: boolean;
  /** The assumptions the parameters were derived for (absent when k and t were both set). */
  derivation?: {
    corruptionRate: number;
    dropoutRate: number;
    sigma: number;
    eta: number;
    /** log2 of the union bound on: honest survivors disconnected, or too many corrupt neighbours. */
    log2SecurityFailure: number;
    /** log2 of the union bound on: some client with fewer than t surviving neighbours. */
    log2CorrectnessFailure: number;
  };
}

export interface SecAggParameterOptions {
  cohortSize: number;
  /** Fix the degree (then t is derived for it unless set too). */
  k?: number;
  /** Fix the threshold. */
  t?: number;
  /** Largest fraction of the cohort expected to drop out during a round (default 0.1). */
  dropoutRate?: number;
  /** Largest fraction of the cohort an adversary may control, besides the coordinator (default 0.05). */
  corruptionRate?: number;
  /** Statistical security parameter (default 40). */
  sigma?: number;
  /** Correctness parameter (default 30). */
  eta?: number;
}

export const DEFAULT_DROPOUT_RATE = 0.1;
export const DEFAULT_CORRUPTION_RATE = 0.05;
export const DEFAULT_SIGMA = 40;
export const DEFAULT_ETA = 30;

const LN2 = Math.LN2;

// ln Gamma(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error ~1e-15).
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = LANCZOS[0]!;
  const tt = x + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(tt) - tt + Math.log(a);
}
const lnChoose = (n: number, r: number): number => (r < 0 || r > n ? -Infinity : lnGamma(n + 1) - lnGamma(r + 1) - lnGamma(n - r + 1));

/** ln P[X = x] for X ~ Hypergeometric(population N, K marked, draws d). */
function lnHyper(N: number, K: number, d: number, x: number): number {
  return lnChoose(K, x) + lnChoose(N - K, d - x) - lnChoose(N, d);
}
function lnSumExp(terms: number[]): number {
  const m = Math.max(...terms);
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (const v of terms) s += Math.exp(v - m);
  return m + Math.log(s);
}
/** ln P[X >= x]. */
function lnUpperTail(N: number, K: number, d: number, x: number): number {
  const terms: number[] = [];
  for (let i = Math.max(x, 0); i <= Math.min(K, d); i++) terms.push(lnHyper(N, K, d, i));
  return terms.length ? lnSumExp(terms) : -Infinity;
}
/** ln P[X < x]. */
function lnLowerTail(N: number, K: number, d: number, x: number): number {
  const terms: number[] = [];
  for (let i = Math.max(0, d - (N - K)); i < Math.min(x, d + 1); i++) terms.push(lnHyper(N, K, d, i));
  return terms.length ? lnSumExp(terms) : -Infinity;
}

/** ln of the union bound on the honest survivors of a random-permutation circulant of even degree k disconnecting. */
function lnDisconnect(n: number, k: number, bad: number): number {
  if (k >= n - 1) return -Infinity; // full graph
  if (bad < k) return -Infinity; // two gaps of k/2 need k removed clients
  // (bad)_k / (n)_k = P[k given positions are all removed] for a uniformly placed removed set.
  const ratio = lnGamma(bad + 1) - lnGamma(bad - k + 1) - (lnGamma(n + 1) - lnGamma(n - k + 1));
  return Math.log(n) + Math.log(n - k - 1) - LN2 + ratio;
}

interface Evaluation {
  /** The threshold rule of condition 2 (may exceed the degree). */
  tRule: number;
  /** Smallest threshold meeting the security conditions (undefined: none does at this degree). */
  tSecure: number | undefined;
  /** True when tSecure also meets the correctness condition. */
  correct: boolean;
  lnSecurity: number;
  lnCorrectness: number;
}

/** Conditions 1-3 for the real degree d of the graph over n clients. */
function evaluate(n: number, d: number, corrupt: number, dropped: number, sigma: number, eta: number): Evaluation {
  const lnSecTarget = -(sigma + 1) * LN2 - Math.log(n);
  const lnConn = lnDisconnect(n, d, corrupt + dropped);
  // a: the corrupt-neighbour count an honest client exceeds with probability <= 2^-(sigma+1)/n.
  let a = 0;
  while (a < d && lnUpperTail(n - 1, Math.min(corrupt, n - 1), d, a + 1) > lnSecTarget) a++;
  const t = Math.max(Math.floor((d + a) / 2) + 1, minThreshold(d), 2);
  // Surviving neighbours: at most `dropped` of the other n - 1 drop.
  const survivorsOthers = Math.max(0, n - 1 - dropped);
  const lnCor = Math.log(n) + lnLowerTail(n - 1, survivorsOthers, d, t);
  const lnSec = lnSumExp([lnConn, Math.log(n) + lnUpperTail(n - 1, Math.min(corrupt, n - 1), d, a + 1)]);
  const secure = lnConn <= -(sigma + 1) * LN2 && t <= d;
  return { tRule: t, tSecure: secure ? t : undefined, correct: secure && lnCor <= -eta * LN2, lnSecurity: lnSec, lnCorrectness: lnCor };
}

function checkRate(name: string, v: unknown, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`opts.${name} must be a finite number`);
  if (v < 0 || v >= max) throw new RangeError(`opts.${name} must be in [0, ${max}), got ${v}`);
  return v;
}

/** The real degree of the graph over n clients for a requested k (graph.ts). */
function effectiveDegree(n: number, k: number): { degree: number; full: boolean } {
  let d = k;
  if ((n * k) % 2 === 1) d = k === 255 ? 254 : k + 1;
  if (n <= d + 1) return { degree: n - 1, full: true };
  return { degree: d, full: false };
}

/**
 * Round parameters for a cohort of `cohortSize` clients (see the comment above). Fix them in
 * the round configuration: clients and server must use the same values. Throws RangeError when
 * no parameters meet the bounds (too many corrupt or dropped clients for the cohort).
 */
export function secAggParameters(opts: SecAggParameterOptions): SecAggParameters {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('opts must be an object');
  const { cohortSize: n } = opts;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new TypeError('opts.cohortSize must be an integer');
  if (n < 3) throw new RangeError('opts.cohortSize must be >= 3');
  if (n > 2 ** 20) throw new RangeError('opts.cohortSize must be <= 2^20');
  const dropoutRate = checkRate('dropoutRate', opts.dropoutRate, DEFAULT_DROPOUT_RATE, 0.5);
  const corruptionRate = checkRate('corruptionRate', opts.corruptionRate, DEFAULT_CORRUPTION_RATE, 0.5);
  const sigma = checkRate('sigma', opts.sigma, DEFAULT_SIGMA, 200);
  const eta = checkRate('eta', opts.eta, DEFAULT_ETA, 200);
  if (opts.k !== undefined && (typeof opts.k !== 'number' || !Number.isInteger(opts.k))) throw new TypeError('opts.k must be an integer');
  if (opts.k !== undefined && (opts.k < 2 || opts.k > 255)) throw new RangeError('opts.k must be in [2, 255]');
  if (opts.t !== undefined && (typeof opts.t !== 'number' || !Number.isInteger(opts.t))) throw new TypeError('opts.t must be an integer');
  // Whole corrupt clients (floor, as Bell et al.'s gamma n); dropouts rounded up (plan for one in a small cohort).
  const corrupt = Math.floor(corruptionRate * n + 1e-9);
  const dropped = Math.ceil(dropoutRate * n - 1e-9);
  const derivation = (e: Evaluation) => ({
    corruptionRate,
    dropoutRate,
    sigma,
    eta,
    log2SecurityFailure: e.lnSecurity / LN2,
    log2CorrectnessFailure: e.lnCorrectness / LN2,
  });

  if (opts.k !== undefined) {
    const { degree, full } = effectiveDegree(n, opts.k);
    if (degree > 255) throw new RangeError('a full graph over more than 256 clients is not supported; set opts.k');
    const e = evaluate(n, degree, corrupt, dropped, sigma, eta);
    // The same t rule; capped at the degree (then no dropout is tolerated).
    const t = opts.t ?? Math.min(degree, e.tRule);
    // t must be a strict majority of the real degree (odd n and k give degree k + 1).
    assertThreshold(degree, t);
    const out: SecAggParameters = { k: full ? degree : opts.k, t, tolerance: degree - t, full };
    if (opts.t === undefined && e.tSecure !== undefined) out.derivation = derivation(e);
    return out;
  }
  for (let k = 2; k < Math.min(n - 1, 255); k += 2) {
    const e = evaluate(n, k, corrupt, dropped, sigma, eta);
    if (!e.correct) continue;
    const t = opts.t ?? e.tSecure!;
    assertThreshold(k, t);
    return { k, t, tolerance: k - t, full: false, derivation: derivation(e) };
  }
  if (n - 1 > 255) {
    throw new RangeError(
      `no SecAgg+ degree up to 254 meets sigma = ${sigma}, eta = ${eta} for n = ${n}, corruptionRate = ${corruptionRate}, dropoutRate = ${dropoutRate}`,
    );
  }
  const d = n - 1;
  const e = evaluate(n, d, corrupt, dropped, sigma, eta);
  if (e.tSecure === undefined && opts.t === undefined) {
    throw new RangeError(
      `no threshold meets sigma = ${sigma} for a cohort of ${n} with corruptionRate = ${corruptionRate}, dropoutRate = ${dropoutRate}: lower the rates or raise the cohort`,
    );
  }
  // A small cohort may not meet eta (the round aborts, revealing nothing, if too many drop):
  // derivation.log2CorrectnessFailure says by how much.
  const t = opts.t ?? e.tSecure!;
  assertThreshold(d, t);
  return { k: d, t, tolerance: d - t, full: true, ...(opts.t === undefined ? { derivation: derivation(e) } : {}) };
}
