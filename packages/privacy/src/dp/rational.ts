// Exact rationals for the discrete Gaussian's variance. The CKS sampler is exact only
// if sigma^2 is a rational it can compare against with integer arithmetic, so a float
// sigma is turned into a rational ONCE, here, with a documented rule:
//
//   1. The float sigma is an exact dyadic rational m / 2^e, so sigma^2 = m^2 / 4^e is
//      computed exactly in bigint (no rounding at all).
//   2. We return the rational with the smallest denominator in the closed interval
//      [sigma^2, sigma^2 * (1 + relTol)] (default relTol = 2^-32).
//
// So the variance actually sampled is never below the variance asked for (privacy is
// never weaker) and exceeds it by at most a factor 1 + 2^-32 (utility is unaffected),
// while "nice" values stay small: sigma = 3 gives 9/1, sigma = 0.5 gives 1/4, and small
// numbers keep the sampler on its fast path.

import { checkNonNegative } from './validate.js';

export interface Rational {
  num: bigint;
  den: bigint;
}

/** The exact value of a finite non-negative double as m / 2^e (bigints). */
export function floatToDyadic(x: number): Rational {
  if (!Number.isFinite(x) || x < 0) throw new RangeError(`floatToDyadic: expected a finite number >= 0, got ${x}`);
  let e = 0n;
  let m = x;
  // Doubling a double is exact, and after at most 1074 doublings it is an integer.
  while (!Number.isInteger(m)) {
    m *= 2;
    e++;
  }
  return { num: BigInt(m), den: 1n << e };
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a < 0n ? -a : a;
}

/**
 * The rational with the smallest denominator in [a/b, c/d] (0 <= a/b <= c/d, positive
 * denominators), by the continued-fraction (Stern-Brocot) descent.
 */
export function simplestRationalBetween(lo: Rational, hi: Rational): Rational {
  const { num: a, den: b } = lo;
  const { num: c, den: d } = hi;
  const fl = a / b; // floor, a >= 0
  if (fl * b === a) return { num: fl, den: 1n }; // lo is an integer
  if ((fl + 1n) * d <= c) return { num: fl + 1n, den: 1n }; // an integer lies inside
  // Both ends in (fl, fl+1): recurse on the reciprocals of the fractional parts, whose
  // order is reversed: 1/(hi - fl) <= y <= 1/(lo - fl).
  const y = simplestRationalBetween({ num: d, den: c - fl * d }, { num: b, den: a - fl * b });
  return { num: fl * y.num + y.den, den: y.num };
}

/** sigma^2 as a rational >= the exact square of the float sigma (see file comment). */
export function varianceToRational(sigma: number, relTol = 2 ** -32): Rational {
  checkNonNegative('sigma', sigma);
  checkNonNegative('relTol', relTol);
  if (!(relTol < 1)) throw new RangeError(`relTol: must be in [0, 1), got ${relTol}`);
  const s = floatToDyadic(sigma);
  const lo: Rational = { num: s.num * s.num, den: s.den * s.den };
  if (lo.num === 0n) return { num: 0n, den: 1n };
  const t = floatToDyadic(relTol); // relTol = tn / td exactly
  const hi: Rational = { num: lo.num * (t.den + t.num), den: lo.den * t.den };
  const r = simplestRationalBetween(lo, hi);
  const g = gcd(r.num, r.den);
  return { num: r.num / g, den: r.den / g };
}

/** floor(sqrt(x)) for a bigint x >= 0 (Newton's method on integers). */
export function isqrt(x: bigint): bigint {
  if (x < 0n) throw new RangeError('isqrt: negative');
  if (x < 2n) return x;
  let r = BigInt(Math.floor(Math.sqrt(Number(x))));
  // Correct the float estimate: Newton from above, then fix the last step.
  if (r === 0n) r = 1n;
  for (;;) {
    const next = (r + x / r) >> 1n;
    if (next >= r) break;
    r = next;
  }
  while (r * r > x) r--;
  while ((r + 1n) * (r + 1n) <= x) r++;
  return r;
}
