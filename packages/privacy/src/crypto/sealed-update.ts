/**
 * Sealed training updates (protocol/v1.md 5.4a): every chunk of a plaintext update is boxed
 * to the coordinator's long-term X25519 key with nacl.box (XSalsa20-Poly1305), from a
 * per-session client X25519 key that the client's Ed25519 identity signs. Each chunk's box
 * carries SHA-256 of its context (federation, round, client, model version, upload, index
 * ...), so a sealed chunk only opens in exactly the upload it was made for.
 */
import nacl from 'tweetnacl';
import type { PlatformCrypto } from '../platform/types.js';
import { assertBytes, concatBytes, fromHex, lengthPrefixed, toHex } from './bytes.js';
import { sha256 } from './hash.js';
import { deriveBoxKey, openBound, sealBound, type BoxKeyPair } from './box.js';
import { signDetached, verifyDetached, type IdentityKeyPair } from './sign.js';

const SEAL_KEY_DOMAIN = 'flock/coordinator-seal-key/v1';
const SEAL_KEY_DERIVE_DOMAIN = 'flock/coordinator-seal-key-derivation/v1';
const CLIENT_KEY_DOMAIN = 'flock/client-seal-key/v1';
const CHUNK_DOMAIN = 'flock/sealed-update-chunk/v1';

/** What a sealed chunk is bound to. Every field is checked when the coordinator opens it. */
export interface SealedUploadContext {
  federationId: string;
  roundId: string;
  clientId: string;
  modelVersion: number;
  numExamples: number;
  uploadId: string;
  byteLength: number;
  chunkBytes: number;
}

/**
 * The coordinator's long-term X25519 sealing key, derived from its Ed25519 signing key
 * (so it is as long-lived as that key and needs no separate storage).
 */
export function deriveCoordinatorSealKey(signingKey: IdentityKeyPair): BoxKeyPair {
  assertBytes('signingKey.secretKey', signingKey.secretKey, 64);
  const seed = sha256(lengthPrefixed(SEAL_KEY_DERIVE_DOMAIN, signingKey.secretKey.subarray(0, 32)));
  const kp = nacl.box.keyPair.fromSecretKey(seed);
  return { publicKey: kp.publicKey, secretKey: kp.secretKey };
}

/** The message the coordinator's Ed25519 key signs to announce its sealing key. */
export function coordinatorSealKeyMessage(federationId: string, sealPublicKey: Uint8Array): Uint8Array {
  return lengthPrefixed(SEAL_KEY_DOMAIN, federationId, sealPublicKey);
}

/** The welcome's `sealKey` announcement: the X25519 public key and the coordinator's Ed25519 signature over it (hex). */
export function announceCoordinatorSealKey(signingKey: IdentityKeyPair, sealKey: BoxKeyPair, federationId: string): { publicKey: string; signature: string } {
  const sig = nacl.sign.detached(coordinatorSealKeyMessage(federationId, sealKey.publicKey), signingKey.secretKey);
  return { publicKey: toHex(sealKey.publicKey), signature: toHex(sig) };
}

/** Checks a `sealKey` announcement against the coordinator's Ed25519 key; returns the X25519 key or undefined. */
export async function verifyCoordinatorSealKey(platform: PlatformCrypto, coordinatorKeyHex: string, federationId: string, announcement: { publicKey: string; signature: string }): Promise<Uint8Array | undefined> {
  const hex = /^[0-9a-f]+$/;
  if (coordinatorKeyHex.length !== 64 || !hex.test(coordinatorKeyHex) || announcement.publicKey.length !== 64 || !hex.test(announcement.publicKey) || announcement.signature.length !== 128 || !hex.test(announcement.signature)) return undefined;
  const pk = fromHex(announcement.publicKey);
  const ok = await verifyDetached(platform, fromHex(coordinatorKeyHex), coordinatorSealKeyMessage(federationId, pk), fromHex(announcement.signature));
  return ok ? pk : undefined;
}

/** The message a client's Ed25519 identity signs to bind its per-session X25519 key. */
export function clientSealKeyMessage(federationId: string, clientId: string, boxPublicKey: Uint8Array): Uint8Array {
  return lengthPrefixed(CLIENT_KEY_DOMAIN, federationId, clientId, boxPublicKey);
}

/** The bound context of chunk `index` of an upload. */
export function sealedChunkContext(c: SealedUploadContext, index: number): Uint8Array {
  return lengthPrefixed(CHUNK_DOMAIN, c.federationId, c.roundId, c.clientId, c.modelVersion, c.numExamples, c.uploadId, c.byteLength, c.chunkBytes, index);
}

/** identityKey (32) | boxKey (32) | signature (64): the client's key record in `round:upload`. */
export async function clientSealKeyRecord(platform: PlatformCrypto, identity: IdentityKeyPair, boxKey: BoxKeyPair, federationId: string, clientId: string): Promise<Uint8Array> {
  const sig = await signDetached(platform, identity.secretKey, clientSealKeyMessage(federationId, clientId, boxKey.publicKey));
  return concatBytes(identity.publicKey, boxKey.publicKey, sig);
}

export type KeyRecordCheck = { ok: true; identityKey: Uint8Array; boxKey: Uint8Array } | { ok: false };

/** Verifies a client key record (signature by its own identity key over federation, client id and box key). */
export async function checkClientSealKeyRecord(platform: PlatformCrypto, record: Uint8Array, federationId: string, clientId: string): Promise<KeyRecordCheck> {
  if (!(record instanceof Uint8Array) || record.length !== 128) return { ok: false };
  const identityKey = record.slice(0, 32);
  const boxKey = record.slice(32, 64);
  const ok = await verifyDetached(platform, identityKey, clientSealKeyMessage(federationId, clientId, boxKey), record.subarray(64, 128));
  return ok ? { ok: true, identityKey, boxKey } : { ok: false };
}

/** The nacl.box shared key between the two ends; undefined for a low-order (all-zero DH) peer key. */
export function sealSharedKey(platform: PlatformCrypto, mine: BoxKeyPair, peerPublicKey: Uint8Array): Promise<Uint8Array | undefined> {
  return deriveBoxKey(platform, mine.secretKey, mine.publicKey, peerPublicKey);
}

/** Seals one plaintext chunk: nonce (24) | box(SHA-256(context) | chunk). */
export function sealChunk(platform: PlatformCrypto, sharedKey: Uint8Array, ctx: SealedUploadContext, index: number, chunk: Uint8Array): Uint8Array {
  return sealBound(platform, chunk, sealedChunkContext(ctx, index), sharedKey);
}

export type OpenChunkResult = { ok: true; plaintext: Uint8Array } | { ok: false; reason: 'decrypt' | 'context' };

/** Opens one sealed chunk; `context` means it is genuine but made for another upload (a replay). */
export function openChunk(sharedKey: Uint8Array, ctx: SealedUploadContext, index: number, sealed: Uint8Array): OpenChunkResult {
  return openBound(sealed, sealedChunkContext(ctx, index), sharedKey);
}
