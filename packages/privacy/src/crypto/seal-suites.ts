/**
 * Sealing suites of training uploads (protocol/v1.md 5.4a, "Sealing suites"):
 *
 * - `x25519-hkdf-sha256-aes-256-gcm` (current): X25519 -> HKDF-SHA256 (bound to the suite,
 *   both public keys and the whole upload context) -> one AES-256-GCM key per upload; chunk i
 *   is sealed under the 96-bit nonce 0^32 | u64be(i) with AAD = SHA-256(context_i).
 * - `x25519-xsalsa20-poly1305` (legacy, deprecated): nacl.box, box.ts / sealed-update.ts.
 *
 * The coordinator announces the suites it accepts in `welcome.sealKey.suites`, signed with
 * its sealing key (`suitesSignature`), so the list cannot be edited on the way.
 */
import nacl from 'tweetnacl';
import type { PlatformCrypto } from '../platform/types.js';
import { webPlatform } from '../platform/web.js';
import { assertBytes, fromHex, isAllZero, lengthPrefixed, toHex } from './bytes.js';
import { x25519Shared } from './dh.js';
import { sha256 } from './hash.js';
import { sealedChunkContext, type SealedUploadContext } from './sealed-update.js';
import { verifyDetached, type IdentityKeyPair } from './sign.js';

export const SEAL_SUITE_AEAD = 'x25519-hkdf-sha256-aes-256-gcm';
export const SEAL_SUITE_LEGACY = 'x25519-xsalsa20-poly1305';
export type SealSuite = typeof SEAL_SUITE_AEAD | typeof SEAL_SUITE_LEGACY;
/** Every suite this implementation speaks, best first. */
export const SEAL_SUITES: readonly SealSuite[] = [SEAL_SUITE_AEAD, SEAL_SUITE_LEGACY];
/** Bytes a sealed chunk adds to its plaintext, per suite. */
export const SEAL_SUITE_OVERHEAD: Readonly<Record<SealSuite, number>> = { [SEAL_SUITE_AEAD]: 16, [SEAL_SUITE_LEGACY]: 72 };

const SUITES_DOMAIN = 'flock/coordinator-seal-suites/v1';
const SALT_DOMAIN = 'flock/sealed-update-salt/v1';
const KEY_DOMAIN = 'flock/sealed-update-key/v1';

export function isSealSuite(s: unknown): s is SealSuite {
  return s === SEAL_SUITE_AEAD || s === SEAL_SUITE_LEGACY;
}

/**
 * The message the coordinator's Ed25519 key signs to announce the suites it accepts:
 * LP(domain) | LP(federationId) | LP(sealPublic) | LP(count) | LP(suite_1) | ... | LP(suite_n).
 */
export function coordinatorSuitesMessage(federationId: string, sealPublicKey: Uint8Array, suites: readonly string[]): Uint8Array {
  return lengthPrefixed(SUITES_DOMAIN, federationId, sealPublicKey, suites.length, ...suites);
}

/**
 * The `suites` / `suitesSignature` fields of `welcome.sealKey`: the accepted suites, best first,
 * and the coordinator's Ed25519 signature over them (hex).
 */
export function announceSealSuites(signingKey: IdentityKeyPair, federationId: string, sealPublicKey: Uint8Array, suites: readonly SealSuite[]): { suites: SealSuite[]; suitesSignature: string } {
  assertBytes('signingKey.secretKey', signingKey.secretKey, 64);
  assertBytes('sealPublicKey', sealPublicKey, 32);
  if (!Array.isArray(suites)) throw new TypeError('suites must be an array');
  if (suites.length === 0 || new Set(suites).size !== suites.length || !suites.every(isSealSuite)) throw new RangeError(`suites must be distinct known suites, at least one: ${SEAL_SUITES.join(', ')}`);
  const sig = nacl.sign.detached(coordinatorSuitesMessage(federationId, sealPublicKey, suites), signingKey.secretKey);
  return { suites: [...suites], suitesSignature: toHex(sig) };
}

/** Checks `suitesSignature` under the coordinator key (hex). */
export async function verifyCoordinatorSuites(platform: PlatformCrypto, coordinatorKeyHex: string, federationId: string, sealPublicKey: Uint8Array, suites: readonly string[], signatureHex: string): Promise<boolean> {
  if (!/^[0-9a-f]{64}$/.test(coordinatorKeyHex) || !/^[0-9a-f]{128}$/.test(signatureHex)) return false;
  return verifyDetached(platform, fromHex(coordinatorKeyHex), coordinatorSuitesMessage(federationId, sealPublicKey, suites), fromHex(signatureHex));
}

/** The first suite of `preference` the coordinator offers; undefined when there is none. */
export function chooseSealSuite(offered: readonly string[], preference: readonly SealSuite[] = SEAL_SUITES): SealSuite | undefined {
  return preference.find((s) => offered.includes(s));
}

/** The HKDF salt: binds the suite and both X25519 public keys (client box key, coordinator seal key). */
export function aeadSalt(clientBoxKey: Uint8Array, sealPublicKey: Uint8Array): Uint8Array {
  return sha256(lengthPrefixed(SALT_DOMAIN, SEAL_SUITE_AEAD, clientBoxKey, sealPublicKey));
}

/** The HKDF info: the suite and every field of the upload context (so the key is one upload's). */
export function aeadInfo(c: SealedUploadContext): Uint8Array {
  return lengthPrefixed(KEY_DOMAIN, SEAL_SUITE_AEAD, c.federationId, c.roundId, c.clientId, c.modelVersion, c.numExamples, c.uploadId, c.byteLength, c.chunkBytes);
}

/** The 96-bit nonce of chunk `index`: 4 zero bytes | u64be(index). */
export function aeadNonce(index: number): Uint8Array {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`index must be a non-negative safe integer, got ${index}`);
  const n = new Uint8Array(12);
  const v = new DataView(n.buffer);
  v.setUint32(4, Math.floor(index / 2 ** 32));
  v.setUint32(8, index >>> 0);
  return n;
}

/** The AAD of chunk `index`: SHA-256 of the chunk context (the same context_i the legacy suite hashes). */
export function aeadChunkAad(ctx: SealedUploadContext, index: number): Uint8Array {
  return sha256(sealedChunkContext(ctx, index));
}

function gcm(platform: PlatformCrypto): PlatformCrypto {
  return platform.aes256GcmSeal && platform.aes256GcmOpen && platform.hkdfSha256 ? platform : webPlatform;
}

/**
 * The AES-256-GCM key of one upload: HKDF-SHA256(ikm = X25519(own secret, peer public),
 * salt = aeadSalt(clientBoxKey, sealPublicKey), info = aeadInfo(ctx), 32 bytes).
 * `clientBoxKey` / `sealPublicKey` name the two public keys whichever end computes it.
 * Undefined for an all-zero X25519 output (a low-order peer key), which callers must refuse.
 */
export async function deriveUploadKey(
  platform: PlatformCrypto,
  ownSecretKey: Uint8Array,
  ownPublicKey: Uint8Array,
  peerPublicKey: Uint8Array,
  keys: { clientBoxKey: Uint8Array; sealPublicKey: Uint8Array },
  ctx: SealedUploadContext,
): Promise<Uint8Array | undefined> {
  assertBytes('clientBoxKey', keys.clientBoxKey, 32);
  assertBytes('sealPublicKey', keys.sealPublicKey, 32);
  const shared = await x25519Shared(platform, ownSecretKey, ownPublicKey, peerPublicKey);
  if (isAllZero(shared)) return undefined;
  const key = await uploadKeyFromShared(platform, shared, keys, ctx);
  shared.fill(0);
  return key;
}

/** HKDF step of `deriveUploadKey`, from an X25519 output that the caller already checked is non-zero. */
export function uploadKeyFromShared(platform: PlatformCrypto, shared: Uint8Array, keys: { clientBoxKey: Uint8Array; sealPublicKey: Uint8Array }, ctx: SealedUploadContext): Promise<Uint8Array> {
  assertBytes('shared', shared, 32);
  return gcm(platform).hkdfSha256!(shared, aeadSalt(keys.clientBoxKey, keys.sealPublicKey), aeadInfo(ctx), 32);
}

/** Seals chunk `index` under the upload key: ciphertext | tag (16), plaintext length + 16 bytes. */
export function sealChunkAead(platform: PlatformCrypto, uploadKey: Uint8Array, ctx: SealedUploadContext, index: number, chunk: Uint8Array): Promise<Uint8Array> {
  assertBytes('uploadKey', uploadKey, 32);
  assertBytes('chunk', chunk);
  return gcm(platform).aes256GcmSeal!(uploadKey, aeadNonce(index), aeadChunkAad(ctx, index), chunk);
}

/** Opens chunk `index`; undefined when it was tampered with, sealed under another key, upload, position or suite. */
export function openChunkAead(platform: PlatformCrypto, uploadKey: Uint8Array, ctx: SealedUploadContext, index: number, sealed: Uint8Array): Promise<Uint8Array | undefined> {
  assertBytes('uploadKey', uploadKey, 32);
  assertBytes('sealed', sealed);
  if (sealed.length < 16) return Promise.resolve(undefined);
  return gcm(platform).aes256GcmOpen!(uploadKey, aeadNonce(index), aeadChunkAad(ctx, index), sealed);
}
