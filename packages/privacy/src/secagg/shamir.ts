import nacl from 'tweetnacl';
import { combine, split } from 'shamir-secret-sharing';
import { assertBytes, equalBytes } from '../crypto/bytes.js';
import { x25519Shared } from '../crypto/dh.js';
import type { PlatformCrypto } from '../platform/types.js';
import { SecAggError } from './errors.js';
import { selfSeedCommitment } from './kdf.js';
import { EXP, LOG } from './gf256.js';
import { decodeShares } from './rs-decode.js';

/**
 * t-of-k Shamir sharing over GF(2^8) (audited `shamir-secret-sharing`). A share is the
 * secret's length plus one byte: its x-coordinate (1..255, random, distinct) is the last byte.
 */
export const SHARE_LENGTH_32 = 33;

/** Smallest allowed threshold for a neighbourhood of k: a strict majority. */
export function minThreshold(k: number): number {
  return Math.floor(k / 2) + 1;
}

/** Default threshold ceil(2k/3), never below floor(k/2)+1 and never below 2. */
export function defaultThreshold(k: number): number {
  if (typeof k !== 'number' || !Number.isInteger(k)) throw new TypeError('k must be an integer');
  if (k < 2 || k > 255) throw new RangeError(`k must be in [2, 255], got ${k}`);
  return Math.max(Math.ceil((2 * k) / 3), minThreshold(k), 2);
}

export function assertThreshold(k: number, t: number): void {
  if (typeof t !== 'number' || !Number.isInteger(t)) throw new TypeError('t must be an integer');
  if (t < Math.max(2, minThreshold(k)) || t > k) {
    throw new RangeError(`t must be in [max(2, floor(k/2)+1), k] = [${Math.max(2, minThreshold(k))}, ${k}], got ${t}`);
  }
}

/** Splits `secret` into `k` shares, any `t` of which reconstruct it. */
export async function shareSecret(secret: Uint8Array, k: number, t: number): Promise<Uint8Array[]> {
  assertBytes('secret', secret);
  if (secret.length < 1) throw new RangeError('secret must not be empty');
  if (typeof k !== 'number' || !Number.isInteger(k)) throw new TypeError('k must be an integer');
  if (k < 2 || k > 255) throw new RangeError(`k must be in [2, 255], got ${k}`);
  assertThreshold(k, t);
  return split(secret, k, t);
}

/** Combines shares (all of the same length, distinct x-coordinates, at least t of them). */
export async function combineShares(shares: readonly Uint8Array[], t: number): Promise<Uint8Array> {
  if (!Array.isArray(shares)) throw new TypeError('shares must be an array');
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 2) throw new RangeError('t must be an integer >= 2');
  if (shares.length < t) throw new RangeError(`need at least t = ${t} shares, got ${shares.length}`);
  const len = shares[0]!.length;
  const xs = new Set<number>();
  for (const [i, s] of shares.entries()) {
    assertBytes(`shares[${i}]`, s, len);
    if (len < 2) throw new RangeError('shares must be at least 2 bytes');
    const x = s[len - 1]!;
    if (x === 0 || xs.has(x)) throw new RangeError('shares must have distinct non-zero x-coordinates');
    xs.add(x);
  }
  return combine([...shares]);
}

/**
 * Lagrange interpolation at 0 with the basis computed once per share set (O(t^2 + t * len)),
 * instead of once per byte as in the library's `combine` (O(t^2 * len)). Same field and share
 * format; cross-checked against `combine` in the tests. Every use here is followed by a check
 * against a public key or commitment, so a wrong result can never go unnoticed.
 */
export function combineSharesFast(shares: readonly Uint8Array[]): Uint8Array {
  const t = shares.length;
  const len = shares[0]!.length - 1;
  // x-coordinates and their logs in typed arrays; the numerators are one sum minus one term.
  const logX = new Uint16Array(t);
  const xs = new Uint8Array(t);
  let logAll = 0;
  for (let i = 0; i < t; i++) {
    const x = shares[i]![len]!;
    xs[i] = x;
    logX[i] = LOG[x]!;
    logAll += LOG[x]!;
  }
  const logBasis = new Uint16Array(t);
  for (let i = 0; i < t; i++) {
    const xi = xs[i]!;
    let logDen = 0;
    for (let j = 0; j < t; j++) if (j !== i) logDen += LOG[xs[j]! ^ xi]!;
    const logNum = logAll - logX[i]!;
    logBasis[i] = (((logNum - logDen) % 255) + 255) % 255;
  }
  const out = new Uint8Array(len);
  for (let i = 0; i < t; i++) {
    const s = shares[i]!;
    const lb = logBasis[i]!;
    for (let b = 0; b < len; b++) {
      const y = s[b]!;
      if (y !== 0) out[b] = out[b]! ^ EXP[LOG[y]! + lb]!;
    }
  }
  return out;
}

/** A revealed share and who revealed it. */
export interface SenderShare {
  sender: string;
  share: Uint8Array;
}

/** A verified secret and the senders whose shares are inconsistent with it. */
export interface Reconstruction {
  secret: Uint8Array;
  /**
   * Senders of shares that disagree with the verified secret's polynomial (or carry an invalid
   * x-coordinate). Only established when the first t distinct shares did not verify: a wrong
   * share that was not needed is not looked for.
   */
  inconsistent: string[];
}

/**
 * Reconstruct with a check. Fast path: the first t shares (distinct x-coordinates, in arrival
 * order). If their secret does not verify, Reed-Solomon decoding of all shares (rs-decode.ts)
 * corrects up to floor((N - t) / 2) wrong shares wherever they sit, and names their senders.
 * Shares that claim the same x-coordinate with different contents are set aside and judged
 * against the decoded polynomial, so a forged share cannot push an honest one out. Returns
 * undefined when nothing verifies (more wrong shares than the code corrects).
 */
async function reconstructChecked(
  shares: readonly SenderShare[],
  t: number,
  check: (secret: Uint8Array) => boolean | Promise<boolean>,
): Promise<Reconstruction | undefined> {
  const invalid: string[] = [];
  const byX = new Map<number, SenderShare[]>();
  for (const s of shares) {
    const x = s.share[s.share.length - 1]!;
    if (x === 0) {
      invalid.push(s.sender);
      continue;
    }
    const list = byX.get(x);
    if (!list) byX.set(x, [s]);
    else if (!list.some((o) => equalBytes(o.share, s.share))) list.push(s);
  }
  const pool: SenderShare[] = [];
  const contested: { x: number; candidates: SenderShare[] }[] = [];
  for (const [x, list] of byX) {
    if (list.length === 1) pool.push(list[0]!);
    else contested.push({ x, candidates: list });
  }
  if (invalid.length === 0 && contested.length === 0 && pool.length >= t) {
    const secret = combineSharesFast(pool.slice(0, t).map((s) => s.share));
    if (await check(secret)) return { secret, inconsistent: [] };
    secret.fill(0);
  }
  if (pool.length < t) return undefined;
  const len = pool[0]!.share.length - 1;
  const xs = Uint8Array.from(pool, (s) => s.share[len]!);
  const values = pool.map((s) => s.share.subarray(0, len));
  const decoded = decodeShares(xs, values, t, contested.map((c) => c.x));
  if (!decoded) return undefined;
  if (!(await check(decoded.secret))) {
    decoded.secret.fill(0);
    return undefined;
  }
  const inconsistent = new Set<string>(invalid);
  for (const i of decoded.wrong) inconsistent.add(pool[i]!.sender);
  contested.forEach((c, j) => {
    for (const cand of c.candidates) if (!equalBytes(cand.share.subarray(0, len), decoded.probed[j]!)) inconsistent.add(cand.sender);
  });
  return { secret: decoded.secret, inconsistent: [...inconsistent].sort() };
}

const X25519_BASE_POINT = new Uint8Array(32);
X25519_BASE_POINT[0] = 9;

/**
 * Reconstructs a dropped client's mask secret key and checks it against its advertised public key.
 * With a platform offering native X25519 the check is X25519(sk, 9) through it (several times
 * faster than tweetnacl's scalarMult.base, which remains the fallback); same result either way.
 */
export async function reconstructMaskKey(shares: readonly SenderShare[], t: number, publicKey: Uint8Array, platform?: PlatformCrypto): Promise<Reconstruction> {
  assertBytes('publicKey', publicKey, 32);
  const publicOf = async (s: Uint8Array): Promise<Uint8Array> =>
    platform?.x25519 ? x25519Shared(platform, s, publicKey, X25519_BASE_POINT) : nacl.scalarMult.base(s);
  const r = await reconstructChecked(shares, t, async (s) => s.length === 32 && equalBytes(await publicOf(s), publicKey));
  if (!r) throw new SecAggError('SECAGG_ABORTED', 'secure aggregation aborted: a reconstruction did not verify');
  return r;
}

/** Reconstructs a survivor's self-mask seed and checks it against its advertised commitment. */
export async function reconstructSelfSeed(
  shares: readonly SenderShare[],
  t: number,
  commitment: Uint8Array,
  ctx: { session: string; round: number; clientId: string },
): Promise<Reconstruction> {
  assertBytes('commitment', commitment, 32);
  const r = await reconstructChecked(
    shares,
    t,
    (s) => s.length === 32 && equalBytes(selfSeedCommitment(ctx.session, ctx.round, ctx.clientId, s), commitment),
  );
  if (!r) throw new SecAggError('SECAGG_ABORTED', 'secure aggregation aborted: a reconstruction did not verify');
  return r;
}
