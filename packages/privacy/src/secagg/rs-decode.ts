import { EXP, LOG, deg, evalAt, inv, mul, polyAdd, polyDivMod, polyMul, type Poly } from './gf256.js';

/**
 * Reed-Solomon decoding of Shamir shares over GF(2^8) (Gao 2003, "A new algorithm for decoding
 * Reed-Solomon codes"). The shares of one secret are a codeword: for every byte position, the
 * values at the shares' x-coordinates are evaluations of one polynomial of degree < t. From N
 * shares with distinct x-coordinates, up to floor((N - t) / 2) wrong ones are corrected, whatever
 * they contain and wherever they sit; the decoded polynomial is unique when it exists.
 *
 * Per byte position: g1 = the interpolant of all N points (degree < N), g0 = prod (X - x_i);
 * the extended Euclidean algorithm on (g0, g1) stops at the first remainder g of degree
 * < (N + t) / 2 with cofactor v; then f = g / v if v divides g and deg f < t, else the position
 * is undecodable. O(N^2) per byte.
 */
export interface DecodedShares {
  /** The secret (the decoded polynomials at 0), one byte per position. */
  secret: Uint8Array;
  /** Indices (into the input) of shares that disagree with the decoded polynomials. */
  wrong: number[];
  /** The decoded polynomials evaluated at each `probe` x-coordinate (one byte per position). */
  probed: Uint8Array[];
}

/** Decodes; undefined when some byte position has more errors than the code corrects. */
export function decodeShares(xs: Uint8Array, values: readonly Uint8Array[], t: number, probe: readonly number[] = []): DecodedShares | undefined {
  const n = xs.length;
  if (n < t || n === 0) return undefined;
  const len = values[0]!.length;
  // g0 = prod (X + x_i) (char 2: minus is plus)
  let g0: Poly = Uint8Array.of(1);
  for (let i = 0; i < n; i++) g0 = polyMul(g0, Uint8Array.of(xs[i]!, 1));
  // Lagrange basis: L_i = w_i * g0 / (X + x_i), w_i = 1 / prod_{j != i} (x_i + x_j)
  const basis: Poly[] = [];
  for (let i = 0; i < n; i++) {
    const { q } = polyDivMod(g0, Uint8Array.of(xs[i]!, 1));
    let logDen = 0;
    for (let j = 0; j < n; j++) if (j !== i) logDen += LOG[xs[i]! ^ xs[j]!]!;
    const w = inv(EXP[logDen % 255]!);
    const b = new Uint8Array(n);
    for (let c = 0; c < q.length && c < n; c++) b[c] = mul(q[c]!, w);
    basis.push(b);
  }
  const stop = (n + t) / 2;
  const secret = new Uint8Array(len);
  const wrong = new Set<number>();
  const probed = probe.map(() => new Uint8Array(len));
  const g1 = new Uint8Array(n);
  for (let pos = 0; pos < len; pos++) {
    g1.fill(0);
    for (let i = 0; i < n; i++) {
      const y = values[i]![pos]!;
      if (y === 0) continue;
      const ly = LOG[y]!;
      const b = basis[i]!;
      for (let c = 0; c < n; c++) {
        const bc = b[c]!;
        if (bc !== 0) g1[c] = g1[c]! ^ EXP[ly + LOG[bc]!]!;
      }
    }
    // partial extended Euclid: r_prev = g0, r = g1, v_prev = 0, v = 1
    let rPrev: Poly = g0;
    let r: Poly = g1.slice();
    let vPrev: Poly = new Uint8Array(1);
    let v: Poly = Uint8Array.of(1);
    while (deg(r) >= stop) {
      const { q, r: rem } = polyDivMod(rPrev, r);
      rPrev = r;
      r = rem;
      const vNext = polyAdd(vPrev, polyMul(q, v));
      vPrev = v;
      v = vNext;
    }
    const { q: f, r: rem } = polyDivMod(r, v);
    if (deg(rem) >= 0 || deg(f) >= t) return undefined;
    secret[pos] = f[0] ?? 0;
    for (let i = 0; i < n; i++) if (evalAt(f, xs[i]!) !== values[i]![pos]) wrong.add(i);
    probe.forEach((x, j) => (probed[j]![pos] = evalAt(f, x)));
  }
  return { secret, wrong: [...wrong].sort((a, b) => a - b), probed };
}
