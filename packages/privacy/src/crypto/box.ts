import nacl from 'tweetnacl';
import type { PlatformCrypto } from '../platform/types.js';
import { assertBytes, concatBytes, equalBytes, isAllZero } from './bytes.js';
import { x25519Shared } from './dh.js';
import { sha256 } from './hash.js';

/** X25519 key pair for nacl.box (Curve25519-XSalsa20-Poly1305). */
export interface BoxKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export function generateBoxKeyPair(platform: PlatformCrypto): BoxKeyPair {
  const kp = nacl.box.keyPair.fromSecretKey(platform.randomBytes(32));
  return { publicKey: kp.publicKey, secretKey: kp.secretKey };
}

const NONCE = nacl.box.nonceLength; // 24
const MAC = nacl.box.overheadLength; // 16
const BIND = 32;
const ZERO16 = new Uint8Array(16);
const SIGMA = new Uint8Array([101, 120, 112, 97, 110, 100, 32, 51, 50, 45, 98, 121, 116, 101, 32, 107]); // "expand 32-byte k"

type HSalsa = (out: Uint8Array, inp: Uint8Array, k: Uint8Array, c: Uint8Array) => number;
const hsalsa20 = (nacl as unknown as { lowlevel: { crypto_core_hsalsa20: HSalsa } }).lowlevel.crypto_core_hsalsa20;

/** Ciphertext size of `sealBound` for a plaintext of `n` bytes. */
export function sealedLength(n: number): number {
  return NONCE + MAC + BIND + n;
}

/**
 * The nacl.box precomputed key (crypto_box_beforenm: HSalsa20 of the X25519 output), with the
 * X25519 done natively when possible. Symmetric: both ends get the same key. Returns undefined
 * for an all-zero X25519 output (low-order peer key), which callers must treat as an error.
 */
export async function deriveBoxKey(
  platform: PlatformCrypto,
  mySecretKey: Uint8Array,
  myPublicKey: Uint8Array,
  peerPublicKey: Uint8Array,
): Promise<Uint8Array | undefined> {
  const s = await x25519Shared(platform, mySecretKey, myPublicKey, peerPublicKey);
  if (isAllZero(s)) return undefined;
  const k = new Uint8Array(32);
  hsalsa20(k, ZERO16, s, SIGMA);
  s.fill(0);
  return k;
}

/**
 * nacl.box (with a precomputed key from `deriveBoxKey`) over a bound context: the plaintext is
 * prefixed with SHA-256(context), so a ciphertext only opens under the same context (session,
 * round, sender, receiver, stage). Output: nonce (24) | box(SHA-256(context) | plaintext).
 * Interoperable with nacl.box / nacl.box.open.
 */
export function sealBound(platform: PlatformCrypto, plaintext: Uint8Array, context: Uint8Array, sharedKey: Uint8Array): Uint8Array {
  assertBytes('plaintext', plaintext);
  assertBytes('context', context);
  assertBytes('sharedKey', sharedKey, 32);
  const nonce = platform.randomBytes(NONCE);
  const boxed = nacl.box.after(concatBytes(sha256(context), plaintext), nonce, sharedKey);
  return concatBytes(nonce, boxed);
}

export type OpenResult = { ok: true; plaintext: Uint8Array } | { ok: false; reason: 'decrypt' | 'context' };

/** Opens a `sealBound` ciphertext; distinguishes a forged/garbled box from a wrong context. */
export function openBound(sealed: Uint8Array, context: Uint8Array, sharedKey: Uint8Array): OpenResult {
  assertBytes('sealed', sealed);
  assertBytes('context', context);
  assertBytes('sharedKey', sharedKey, 32);
  if (sealed.length < NONCE + MAC + BIND) return { ok: false, reason: 'decrypt' };
  const opened = nacl.box.open.after(sealed.subarray(NONCE), sealed.subarray(0, NONCE), sharedKey);
  if (!opened) return { ok: false, reason: 'decrypt' };
  if (!equalBytes(opened.subarray(0, BIND), sha256(context))) return { ok: false, reason: 'context' };
  return { ok: true, plaintext: opened.subarray(BIND) };
}
