import nacl from 'tweetnacl';
import { lengthPrefixed } from '../crypto/bytes.js';
import { generateBoxKeyPair, type BoxKeyPair } from '../crypto/box.js';
import { signDetached, verifyDetached, type IdentityKeyPair } from '../crypto/sign.js';
import type { PlatformCrypto } from '../platform/types.js';
import type { AdvertiseKeysMessage } from './messages.js';

export const ADVERTISE_DOMAIN = 'flock/secagg/v1/advertise-keys';
export const SHARE_DOMAIN = 'flock/secagg/v1/share-keys';

/** The per-round key material of one client (never leaves the client). */
export interface RoundKeys {
  encryption: BoxKeyPair;
  mask: BoxKeyPair;
  selfSeed: Uint8Array;
}

/** Fresh X25519 key pairs (encryption, mask) and a fresh 32-byte self-mask seed. */
export function generateRoundKeys(platform: PlatformCrypto): RoundKeys {
  return { encryption: generateBoxKeyPair(platform), mask: generateBoxKeyPair(platform), selfSeed: platform.randomBytes(32) };
}

/** Bytes covered by the advertise signature (everything but the signature and the identity key). */
export function advertiseSignedBytes(m: Omit<AdvertiseKeysMessage, 'signature' | 'stage' | 'identityKey'>): Uint8Array {
  return lengthPrefixed(ADVERTISE_DOMAIN, m.session, m.round, m.clientId, m.encryptionKey, m.maskKey, m.selfSeedCommitment);
}

export async function signAdvertise(
  platform: PlatformCrypto,
  identity: IdentityKeyPair,
  m: Omit<AdvertiseKeysMessage, 'signature' | 'stage' | 'identityKey'>,
): Promise<Uint8Array> {
  return signDetached(platform, identity.secretKey, advertiseSignedBytes(m));
}

export async function verifyAdvertise(platform: PlatformCrypto, m: AdvertiseKeysMessage): Promise<boolean> {
  return verifyDetached(platform, m.identityKey, advertiseSignedBytes(m), m.signature);
}

/** AEAD context of one encrypted share bundle: binds session, round, sender, receiver, stage. */
export function shareContext(session: string, round: number, from: string, to: string): Uint8Array {
  return lengthPrefixed(SHARE_DOMAIN, session, round, from, to, 'share-keys');
}

/** X25519 public key of a 32-byte secret key. */
export function x25519Public(secretKey: Uint8Array): Uint8Array {
  return nacl.scalarMult.base(secretKey);
}
