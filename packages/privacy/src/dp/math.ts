// Log-space numerics for the RDP accountant.
//
// The subsampled-Gaussian RDP sums terms that range over hundreds of orders of
// magnitude (binomial coefficients of order 1024 times q^i), so every quantity is
// kept as a natural logarithm and combined with logAddExp / logSubExp. Nothing here
// touches randomness; it is plain deterministic float64 maths.

const LN_SQRT_2PI = 0.9189385332046727418; // ln(sqrt(2*pi))

/** ln(exp(a) + exp(b)) without overflow; -Infinity stands for ln(0). */
export function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const hi = Math.max(a, b);
  const lo = Math.min(a, b);
  return hi + Math.log1p(Math.exp(lo - hi));
}

/**
 * ln(exp(a) - exp(b)) for a >= b. Throws RangeError when the difference would be
 * negative: in the accountant that can only mean a bug, and a silent NaN would turn
 * into a wrong epsilon.
 */
export function logSubExp(a: number, b: number): number {
  if (a < b) throw new RangeError(`logSubExp: result would be negative (a=${a}, b=${b})`);
  if (b === -Infinity) return a;
  if (a === b) return -Infinity;
  // expm1 keeps precision when a and b are close.
  const d = a - b;
  if (d > 700) return a; // exp(d) overflows; ln(e^a - e^b) = a to double precision.
  return Math.log(Math.expm1(d)) + b;
}

// Lanczos approximation, g = 7, n = 9 (the widely published coefficient set); relative
// error of Gamma below ~2e-15 for Re(z) >= 0.5, which gives lgamma to ~1e-14 relative
// away from its zeros at 1 and 2 (and ~1e-15 absolute near them).
const LANCZOS_G = 7;
const LANCZOS_COEF = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
];

/** sin(pi * x) with the argument reduced exactly first (x mod 2 is exact in floats). */
export function sinPi(x: number): number {
  let r = x % 2; // exact
  if (r < -1) r += 2;
  else if (r > 1) r -= 2;
  if (r === 0 || r === 1 || r === -1) return 0;
  if (r === 0.5) return 1;
  if (r === -0.5) return -1;
  return Math.sin(Math.PI * r);
}

/**
 * ln|Gamma(x)| for real x that is not a non-positive integer (there it is +Infinity).
 * Uses the reflection formula below 0.5 so it also serves the binomial coefficients of
 * fractional RDP orders, where Gamma is evaluated at negative non-integers.
 */
export function lgamma(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return Infinity;
  if (x < 0.5) {
    if (Number.isInteger(x)) return Infinity;
    // Gamma(x) Gamma(1-x) = pi / sin(pi x)
    return Math.log(Math.PI / Math.abs(sinPi(x))) - lgamma(1 - x);
  }
  if (x === 1 || x === 2) return 0;
  const z = x - 1;
  let a = LANCZOS_COEF[0]!;
  const t = z + LANCZOS_G + 0.5;
  for (let i = 1; i < LANCZOS_COEF.length; i++) a += LANCZOS_COEF[i]! / (z + i);
  return LN_SQRT_2PI + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Sign of Gamma(x) (x not a non-positive integer). */
export function gammaSign(x: number): 1 | -1 {
  if (x > 0) return 1;
  // For negative non-integers Gamma alternates sign on each unit interval.
  return Math.floor(x) % 2 === 0 ? 1 : -1;
}

/**
 * ln|binom(n, k)| and its sign for real n >= 0 and integer k >= 0 (the generalised
 * binomial coefficient n(n-1)...(n-k+1)/k!). Fractional RDP orders need negative
 * coefficients once k > n; for integer n and k > n the coefficient is 0 (log -Infinity).
 */
export function logAbsBinomial(n: number, k: number): { log: number; sign: 1 | -1 | 0 } {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`logAbsBinomial: k must be a non-negative integer, got ${k}`);
  if (k === 0) return { log: 0, sign: 1 };
  const m = n - k + 1;
  if (m <= 0 && Number.isInteger(m)) return { log: -Infinity, sign: 0 };
  if (Number.isInteger(n) && n >= 0 && k <= n && n < 60) {
    // Small integer case: exact products, avoids cancellation between lgammas.
    let c = 1;
    for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
    return { log: Math.log(c), sign: 1 };
  }
  const log = lgamma(n + 1) - lgamma(k + 1) - lgamma(m);
  return { log, sign: gammaSign(m) };
}

// W. J. Cody's rational Chebyshev approximations (Math. Comp. 23, 1969, as in the
// netlib SPECFUN routine CALERF). Coefficients are the published constants.
const ERF_A = [3.1611237438705656, 113.864154151050156, 377.485237685302021, 3209.37758913846947, 0.185777706184603153];
const ERF_B = [23.6012909523441209, 244.024637934444173, 1282.61652607737228, 2844.23683343917062];
const ERF_C = [
  0.564188496988670089, 8.88314979438837594, 66.1191906371416295, 298.635138197400131, 881.95222124176909,
  1712.04761263407058, 2051.07837782607147, 1230.33935479799725, 2.15311535474403846e-8,
];
const ERF_D = [
  15.7449261107098347, 117.693950891312499, 537.181101862009858, 1621.38957456669019, 3290.79923573345963,
  4362.61909014324716, 3439.36767414372164, 1230.33935480374942,
];
const ERF_P = [
  0.305326634961232344, 0.360344899949804439, 0.125781726111229246, 0.0160837851487422766,
  6.58749161529837803e-4, 0.0163153871373020978,
];
const ERF_Q = [2.56852019228982242, 1.87295284992346047, 0.527905102951428412, 0.0605183413124413191, 0.00233520497626869185];
const RSQRT_PI = 0.56418958354775628695;

/** erf(x) for |x| <= 0.46875 (Cody's first interval). */
function erfSmall(x: number): number {
  const z = x * x;
  let num = ERF_A[4]! * z;
  let den = z;
  for (let i = 0; i < 3; i++) {
    num = (num + ERF_A[i]!) * z;
    den = (den + ERF_B[i]!) * z;
  }
  return (x * (num + ERF_A[3]!)) / (den + ERF_B[3]!);
}

/** Scaled complementary error function exp(y^2) erfc(y) for y > 0.46875. */
function erfcxLarge(y: number): number {
  if (y <= 4) {
    let num = ERF_C[8]! * y;
    let den = y;
    for (let i = 0; i < 7; i++) {
      num = (num + ERF_C[i]!) * y;
      den = (den + ERF_D[i]!) * y;
    }
    return (num + ERF_C[7]!) / (den + ERF_D[7]!);
  }
  if (y >= 6.71e7) return RSQRT_PI / y; // the asymptotic series has converged to its first term
  // Asymptotic region: erfc(y) e^{y^2} y = 1/sqrt(pi) - R(1/y^2)/y^2, a rational fit to
  // the asymptotic expansion 1/sqrt(pi) (1 - 1/(2y^2) + 3/(4y^4) - ...).
  const z = 1 / (y * y);
  let num = ERF_P[5]! * z;
  let den = z;
  for (let i = 0; i < 4; i++) {
    num = (num + ERF_P[i]!) * z;
    den = (den + ERF_Q[i]!) * z;
  }
  const r = (z * (num + ERF_P[4]!)) / (den + ERF_Q[4]!);
  return (RSQRT_PI - r) / y;
}

/** erfc(x) in linear space (underflows to 0 beyond x ~ 26.5; use logErfc there). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const y = Math.abs(x);
  if (y <= 0.46875) return 1 - erfSmall(x);
  const pos = Math.exp(-y * y) * erfcxLarge(y);
  return x > 0 ? pos : 2 - pos;
}

/**
 * ln(erfc(x)) accurate for every real x, including large positive x where erfc
 * underflows: there ln erfc(x) = -x^2 + ln(erfcx(x)) and erfcx comes from Cody's
 * asymptotic-region rational, so no exp(-x^2) is ever formed.
 */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return -Infinity;
  if (x === -Infinity) return Math.LN2;
  const y = Math.abs(x);
  if (y <= 0.46875) return Math.log1p(-erfSmall(x));
  if (x > 0) return -x * x + Math.log(erfcxLarge(x));
  // erfc(x) = 2 - erfc(|x|) for negative x; erfc(|x|) < 0.51 so no cancellation.
  return Math.log(2 - Math.exp(-y * y) * erfcxLarge(y));
}
