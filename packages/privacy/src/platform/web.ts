import { addToCounter, checkAesArgs, checkGcmArgs, checkHkdfArgs, checkRandomArgs, type PlatformCrypto } from './types.js';

type Buf = Uint8Array<ArrayBuffer>;

/** WebCrypto `getRandomValues` refuses more than 65,536 bytes per call. */
const RANDOM_CHUNK = 65_536;
/** Keystream produced per `subtle.encrypt` call (bounds the zero buffer we keep). */
const AES_CHUNK = 16 * 2 ** 20;

function webCrypto(): Crypto {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (!c || typeof c.getRandomValues !== 'function' || !c.subtle) {
    throw new Error('WebCrypto (globalThis.crypto with subtle) is not available on this platform');
  }
  return c;
}

let zeros = new Uint8Array(0);
function zeroBuffer(n: number): Uint8Array {
  if (zeros.length < n) zeros = new Uint8Array(n);
  return zeros.subarray(0, n);
}

let ed25519Supported: boolean | undefined;
let x25519Supported: boolean | undefined;

function b64url(u: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < u.length; i++) bin += String.fromCharCode(u[i]!);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** PlatformCrypto on WebCrypto (browsers, workers, Node >= 20). */
export const webPlatform: PlatformCrypto = {
  name: 'web',
  randomBytes(n: number): Uint8Array {
    checkRandomArgs(n);
    const c = webCrypto();
    const out = new Uint8Array(n);
    for (let off = 0; off < n; off += RANDOM_CHUNK) {
      c.getRandomValues(out.subarray(off, Math.min(n, off + RANDOM_CHUNK)));
    }
    return out;
  },
  async aes256Ctr(key: Uint8Array, iv: Uint8Array, byteLength: number): Promise<Uint8Array> {
    checkAesArgs(key, iv, byteLength);
    const subtle = webCrypto().subtle;
    const k = await subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, { name: 'AES-CTR' }, false, ['encrypt']);
    const out = new Uint8Array(byteLength);
    const parts: Promise<void>[] = [];
    for (let off = 0; off < byteLength; off += AES_CHUNK) {
      const len = Math.min(AES_CHUNK, byteLength - off);
      const counter = off === 0 ? iv.slice() : addToCounter(iv, off / 16);
      const at = off;
      parts.push(
        subtle
          .encrypt({ name: 'AES-CTR', counter: counter as Uint8Array<ArrayBuffer>, length: 128 }, k, zeroBuffer(Math.min(AES_CHUNK, byteLength)).subarray(0, len) as Uint8Array<ArrayBuffer>)
          .then((buf) => out.set(new Uint8Array(buf), at)),
      );
    }
    await Promise.all(parts);
    return out;
  },
  async x25519(secretKey: Uint8Array, publicKey: Uint8Array, peerPublicKey: Uint8Array): Promise<Uint8Array> {
    if (x25519Supported === false) throw new Error('WebCrypto X25519 unsupported');
    const subtle = webCrypto().subtle;
    try {
      const priv = await subtle.importKey('jwk', { kty: 'OKP', crv: 'X25519', d: b64url(secretKey), x: b64url(publicKey) }, { name: 'X25519' }, false, ['deriveBits']);
      const pub = await subtle.importKey('raw', peerPublicKey as Uint8Array<ArrayBuffer>, { name: 'X25519' }, false, []);
      const bits = await subtle.deriveBits({ name: 'X25519', public: pub } as unknown as AlgorithmIdentifier, priv, 256);
      x25519Supported = true;
      return new Uint8Array(bits);
    } catch (e) {
      if (x25519Supported === undefined) x25519Supported = false;
      throw e;
    }
  },
  async hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array> {
    checkHkdfArgs(ikm, salt, info, length);
    const subtle = webCrypto().subtle;
    const k = await subtle.importKey('raw', ikm as Buf, 'HKDF', false, ['deriveBits']);
    return new Uint8Array(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: salt as Buf, info: info as Buf }, k, length * 8));
  },
  async aes256GcmSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
    checkGcmArgs(key, nonce, aad, plaintext);
    const subtle = webCrypto().subtle;
    const k = await subtle.importKey('raw', key as Buf, { name: 'AES-GCM' }, false, ['encrypt']);
    return new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv: nonce as Buf, additionalData: aad as Buf, tagLength: 128 }, k, plaintext as Buf));
  },
  async aes256GcmOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Promise<Uint8Array | undefined> {
    checkGcmArgs(key, nonce, aad, sealed, 16);
    const subtle = webCrypto().subtle;
    const k = await subtle.importKey('raw', key as Buf, { name: 'AES-GCM' }, false, ['decrypt']);
    try {
      return new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: nonce as Buf, additionalData: aad as Buf, tagLength: 128 }, k, sealed as Buf));
    } catch {
      return undefined; // OperationError: the tag does not verify
    }
  },
  async ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (ed25519Supported === false) throw new Error('WebCrypto Ed25519 unsupported');
    const subtle = webCrypto().subtle;
    try {
      const k = await subtle.importKey('raw', publicKey as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, false, ['verify']);
      const ok = await subtle.verify({ name: 'Ed25519' }, k, signature as Uint8Array<ArrayBuffer>, message as Uint8Array<ArrayBuffer>);
      ed25519Supported = true;
      return ok;
    } catch (e) {
      if (ed25519Supported === undefined) ed25519Supported = false;
      throw e;
    }
  },
};
