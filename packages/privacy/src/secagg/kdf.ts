import { x25519Shared } from '../crypto/dh.js';
import type { PlatformCrypto } from '../platform/types.js';
import { assertBytes, compareBytes, isAllZero, lengthPrefixed } from '../crypto/bytes.js';
import { sha256 } from '../crypto/hash.js';
import { SecAggError } from './errors.js';

export const PAIRWISE_DOMAIN = 'flock/secagg/v1/pairwise-mask-seed';
export const SELF_COMMIT_DOMAIN = 'flock/secagg/v1/self-mask-commitment';

export function assertSession(name: string, session: unknown): asserts session is string {
  if (typeof session !== 'string') throw new TypeError(`${name} must be a string`);
  if (session.length < 1 || session.length > 128) throw new RangeError(`${name} must have 1..128 characters`);
}

export function assertRound(name: string, round: unknown): asserts round is number {
  if (typeof round !== 'number' || !Number.isInteger(round)) throw new TypeError(`${name} must be an integer`);
  if (round < 0 || !Number.isSafeInteger(round)) throw new RangeError(`${name} must be a non-negative safe integer`);
}


/**
 * Pairwise mask seed = SHA-256(domain | session | round | pk_lo | pk_hi | DH), each field
 * length-prefixed (4-byte BE length), round as u64 BE, pk_lo < pk_hi lexicographically, so
 * both ends derive the same 32 bytes. Rejects an all-zero DH.
 */
export function pairwiseSeed(session: string, round: number, pkA: Uint8Array, pkB: Uint8Array, dh: Uint8Array): Uint8Array {
  assertSession('session', session);
  assertRound('round', round);
  assertBytes('pkA', pkA, 32);
  assertBytes('pkB', pkB, 32);
  assertBytes('dh', dh, 32);
  if (isAllZero(dh)) throw new SecAggError('SECAGG_ZERO_DH', 'key agreement produced an all-zero output');
  const [lo, hi] = compareBytes(pkA, pkB) <= 0 ? [pkA, pkB] : [pkB, pkA];
  return sha256(lengthPrefixed(PAIRWISE_DOMAIN, session, round, lo, hi, dh));
}

/** X25519 + pairwiseSeed in one step, from my mask key pair and the peer's mask public key. */
export async function agreePairwiseSeed(
  platform: PlatformCrypto,
  session: string,
  round: number,
  mySecretKey: Uint8Array,
  myPublicKey: Uint8Array,
  peerPublicKey: Uint8Array,
): Promise<Uint8Array> {
  const dh = await x25519Shared(platform, mySecretKey, myPublicKey, peerPublicKey);
  try {
    return pairwiseSeed(session, round, myPublicKey, peerPublicKey, dh);
  } finally {
    dh.fill(0);
  }
}

/** Commitment to the self-mask seed, published at advertise time and checked at reconstruction. */
export function selfSeedCommitment(session: string, round: number, clientId: string, seed: Uint8Array): Uint8Array {
  assertSession('session', session);
  assertRound('round', round);
  assertBytes('seed', seed, 32);
  return sha256(lengthPrefixed(SELF_COMMIT_DOMAIN, session, round, clientId, seed));
}
