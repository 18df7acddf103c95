// Node-only adapter, exported as `@flock/privacy/node`. Nothing else in @flock/privacy may
// import node:* modules.
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, randomFillSync, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { nodeMaskHelpers } from './node-mask-worker.js';
import { checkAesArgs, checkGcmArgs, checkHkdfArgs, checkRandomArgs, type KeystreamReader, type PlatformCrypto } from './types.js';

/**
 * OpenSSL's throughput peaks with updates of a few hundred KiB (measured ~3 GB/s with AES-NI
 * on 256 KiB versus ~0.65 GB/s for one 4 MB update), so the keystream is produced in chunks
 * over one shared zero buffer and copied into the output.
 */
const CHUNK = 256 * 1024;
const ZERO = new Uint8Array(CHUNK);

const b64url = (u: Uint8Array): string => Buffer.from(u.buffer, u.byteOffset, u.length).toString('base64url');

/**
 * A raw 32-byte Ed25519 / X25519 public key as a KeyObject. JWK, not DER: Node imports an OKP
 * JWK straight from the raw bytes (EVP_PKEY_new_raw_public_key), while DER goes through
 * OpenSSL 3's decoder lookup, ~10x slower (Node 20 here: ~10 us versus ~110-140 us of CPU per
 * key; the coordinator imports two per session: the key record's identity and box keys).
 */
const okpPublicKey = (crv: 'Ed25519' | 'X25519', key: Uint8Array): KeyObject => createPublicKey({ key: { kty: 'OKP', crv, x: b64url(key) }, format: 'jwk' });

/**
 * Imported X25519 private keys, keyed by the caller's secret-key array and re-checked against a
 * copy of its contents (so a wiped or rewritten array never reuses a stale key object).
 */
const x25519Keys = new WeakMap<Uint8Array, { copy: Uint8Array; key: KeyObject }>();

function x25519PrivateKey(secretKey: Uint8Array, publicKey: Uint8Array): KeyObject {
  const hit = x25519Keys.get(secretKey);
  if (hit && timingSafeEqual(hit.copy, secretKey)) return hit.key;
  const key = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64url(secretKey), x: b64url(publicKey) }, format: 'jwk' });
  x25519Keys.set(secretKey, { copy: secretKey.slice(), key });
  return key;
}

/**
 * Imported X25519 public keys, keyed by the caller's array and re-checked against a copy of its
 * contents. A coordinator unmasking dropouts reuses each survivor's key once per dropped neighbour.
 */
const x25519PublicKeys = new WeakMap<Uint8Array, { copy: Uint8Array; key: KeyObject }>();

function x25519PublicKey(publicKey: Uint8Array): KeyObject {
  const hit = x25519PublicKeys.get(publicKey);
  if (hit && hit.copy.length === publicKey.length && timingSafeEqual(hit.copy, publicKey)) return hit.key;
  if (publicKey.length !== 32) throw new RangeError('an X25519 public key is 32 bytes');
  const key = okpPublicKey('X25519', publicKey);
  x25519PublicKeys.set(publicKey, { copy: publicKey.slice(), key });
  return key;
}

function keystreamChunks(key: Uint8Array, iv: Uint8Array, byteLength: number, sink: (chunk: Uint8Array, byteOffset: number) => void): void {
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  let off = 0;
  while (off < byteLength) {
    const len = Math.min(CHUNK, byteLength - off);
    const ks = cipher.update(len === CHUNK ? ZERO : ZERO.subarray(0, len));
    sink(ks, off);
    off += ks.length;
  }
  // CTR is a stream mode: final() returns nothing, but calling it releases the context.
  cipher.final();
}

/** AES-256-GCM with OpenSSL: ciphertext | tag (16) in one new buffer. */
export function gcmSealSync(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
  c.setAAD(aad);
  const out = new Uint8Array(plaintext.length + 16);
  out.set(c.update(plaintext), 0);
  c.final();
  out.set(c.getAuthTag(), plaintext.length);
  return out;
}

/**
 * Opens AES-256-GCM `sealed` (ciphertext | tag) into `out` (exactly the ciphertext length):
 * true when the tag verifies. On false `out` holds nothing (it is zeroed).
 */
export function gcmOpenInto(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array, out: Uint8Array): boolean {
  const n = sealed.length - 16;
  if (n < 0 || out.length !== n) return false;
  const d = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
  d.setAAD(aad);
  d.setAuthTag(sealed.subarray(n));
  // In pieces of at most 256 KiB (CHUNK, above): each piece OpenSSL returns is copied while it is
  // still in cache, and the short-lived output buffers stay small whatever the chunk size.
  for (let off = 0; off < n; off += CHUNK) out.set(d.update(sealed.subarray(off, Math.min(n, off + CHUNK))), off);
  try {
    d.final();
    return true;
  } catch {
    out.fill(0);
    return false;
  }
}

/** PlatformCrypto on node:crypto (OpenSSL). Byte-identical to `webPlatform`. */
export const nodePlatform: PlatformCrypto = {
  name: 'node',
  randomBytes(n: number): Uint8Array {
    checkRandomArgs(n);
    const out = new Uint8Array(n);
    // randomFillSync caps a single call at 2^31-1 bytes; n is bounded by checkRandomArgs.
    if (n > 0) randomFillSync(out);
    return out;
  },
  async aes256Ctr(key: Uint8Array, iv: Uint8Array, byteLength: number): Promise<Uint8Array> {
    checkAesArgs(key, iv, byteLength);
    const out = new Uint8Array(byteLength);
    keystreamChunks(key, iv, byteLength, (chunk, off) => out.set(chunk, off));
    return out;
  },
  async aes256CtrEach(key: Uint8Array, iv: Uint8Array, byteLength: number, sink: (chunk: Uint8Array, byteOffset: number) => void): Promise<void> {
    checkAesArgs(key, iv, byteLength);
    if (typeof sink !== 'function') throw new TypeError('sink must be a function');
    keystreamChunks(key, iv, byteLength, sink);
  },
  aes256CtrReader(key: Uint8Array, iv: Uint8Array): KeystreamReader {
    checkAesArgs(key, iv, 0);
    const cipher = createCipheriv('aes-256-ctr', key, iv);
    let closed = false;
    return {
      next(byteLength: number): Uint8Array {
        if (closed) throw new Error('keystream reader is closed');
        checkAesArgs(key, iv, byteLength);
        if (byteLength <= CHUNK) return cipher.update(byteLength === CHUNK ? ZERO : ZERO.subarray(0, byteLength));
        const out = new Uint8Array(byteLength);
        for (let off = 0; off < byteLength; off += CHUNK) {
          const len = Math.min(CHUNK, byteLength - off);
          out.set(cipher.update(len === CHUNK ? ZERO : ZERO.subarray(0, len)), off);
        }
        return out;
      },
      close(): void {
        if (closed) return;
        closed = true;
        cipher.final();
      },
    };
  },
  async x25519(secretKey: Uint8Array, publicKey: Uint8Array, peerPublicKey: Uint8Array): Promise<Uint8Array> {
    const privateKey = x25519PrivateKey(secretKey, publicKey);
    return new Uint8Array(diffieHellman({ privateKey, publicKey: x25519PublicKey(peerPublicKey) }));
  },
  async hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array> {
    checkHkdfArgs(ikm, salt, info, length);
    return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length));
  },
  async aes256GcmSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
    checkGcmArgs(key, nonce, aad, plaintext);
    return gcmSealSync(key, nonce, aad, plaintext);
  },
  async aes256GcmOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Promise<Uint8Array | undefined> {
    checkGcmArgs(key, nonce, aad, sealed, 16);
    const out = new Uint8Array(sealed.length - 16);
    return gcmOpenInto(key, nonce, aad, sealed, out) ? out : undefined;
  },
  async ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (publicKey.length !== 32) throw new RangeError('an Ed25519 public key is 32 bytes');
    return verify(null, message, okpPublicKey('Ed25519', publicKey), signature);
  },
  async ed25519Sign(seed: Uint8Array, publicKey: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
    const key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: b64url(seed), x: b64url(publicKey) }, format: 'jwk' });
    return new Uint8Array(sign(null, message, key));
  },
};

/**
 * `nodePlatform` plus one worker thread that shares SecAgg mask application (`maskHelpers`).
 * Opt-in: on the 2-core benchmark machine, busy with other work, it was slower than the single
 * thread (bench/README.md, SecAgg); it can pay off on idle multi-core coordinators. Measure first.
 */
export const nodePlatformWithMaskHelpers: PlatformCrypto = { ...nodePlatform, name: 'node+helpers', maskHelpers: nodeMaskHelpers };

export default nodePlatform;
