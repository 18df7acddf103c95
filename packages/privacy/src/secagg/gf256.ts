/**
 * GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1 (the field of `shamir-secret-sharing`),
 * log/exp tables over the generator 3, and the few polynomial operations Reed-Solomon decoding
 * needs. Polynomials are coefficient arrays, lowest degree first; `deg` ignores trailing zeros.
 * Addition is XOR. Not constant-time: only ever used on shares the coordinator already holds.
 */
export const EXP = new Uint8Array(510);
export const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    EXP[i + 255] = x;
    LOG[x] = i;
    x ^= (x << 1) ^ (x & 0x80 ? 0x11b : 0); // x *= 3
    x &= 0xff;
  }
}

export function mul(a: number, b: number): number {
  return a === 0 || b === 0 ? 0 : EXP[LOG[a]! + LOG[b]!]!;
}

export function inv(a: number): number {
  if (a === 0) throw new RangeError('0 has no inverse');
  return EXP[255 - LOG[a]!]!;
}

export type Poly = Uint8Array;

export function deg(p: Poly): number {
  for (let i = p.length - 1; i >= 0; i--) if (p[i] !== 0) return i;
  return -1;
}

export function evalAt(p: Poly, x: number): number {
  let acc = 0;
  for (let i = deg(p); i >= 0; i--) acc = mul(acc, x) ^ p[i]!;
  return acc;
}

export function polyMul(a: Poly, b: Poly): Poly {
  const da = deg(a);
  const db = deg(b);
  if (da < 0 || db < 0) return new Uint8Array(1);
  const out = new Uint8Array(da + db + 1);
  for (let i = 0; i <= da; i++) {
    const ai = a[i]!;
    if (ai === 0) continue;
    const la = LOG[ai]!;
    for (let j = 0; j <= db; j++) {
      const bj = b[j]!;
      if (bj !== 0) out[i + j] = out[i + j]! ^ EXP[la + LOG[bj]!]!;
    }
  }
  return out;
}

export function polyAdd(a: Poly, b: Poly): Poly {
  const out = new Uint8Array(Math.max(a.length, b.length));
  out.set(a);
  for (let i = 0; i < b.length; i++) out[i] = out[i]! ^ b[i]!;
  return out;
}

/** Quotient and remainder of a / b (b non-zero). */
export function polyDivMod(a: Poly, b: Poly): { q: Poly; r: Poly } {
  const db = deg(b);
  if (db < 0) throw new RangeError('division by the zero polynomial');
  const r = a.slice();
  const da = deg(r);
  if (da < db) return { q: new Uint8Array(1), r };
  const q = new Uint8Array(da - db + 1);
  const lead = inv(b[db]!);
  for (let i = da; i >= db; i--) {
    const c = r[i]!;
    if (c === 0) continue;
    const f = mul(c, lead);
    q[i - db] = f;
    const lf = LOG[f]!;
    for (let j = 0; j <= db; j++) {
      const bj = b[j]!;
      if (bj !== 0) r[i - db + j] = r[i - db + j]! ^ EXP[lf + LOG[bj]!]!;
    }
  }
  return { q, r };
}
