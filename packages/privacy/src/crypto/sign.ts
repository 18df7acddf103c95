import nacl from 'tweetnacl';
import type { PlatformCrypto } from '../platform/types.js';
import { assertBytes } from './bytes.js';

/** A long-term Ed25519 identity: 32-byte public key, 64-byte tweetnacl secret key (seed | pk). */
export interface IdentityKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export function generateIdentityKeyPair(platform: PlatformCrypto): IdentityKeyPair {
  const kp = nacl.sign.keyPair.fromSeed(platform.randomBytes(32));
  return { publicKey: kp.publicKey, secretKey: kp.secretKey };
}

export function assertIdentity(name: string, identity: unknown): asserts identity is IdentityKeyPair {
  if (typeof identity !== 'object' || identity === null) throw new TypeError(`${name} must be an object`);
  const id = identity as Partial<IdentityKeyPair>;
  assertBytes(`${name}.publicKey`, id.publicKey, 32);
  assertBytes(`${name}.secretKey`, id.secretKey, 64);
}

/** Ed25519 signature (deterministic; native when the platform offers it, else tweetnacl). */
export async function signDetached(platform: PlatformCrypto, secretKey: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  assertBytes('secretKey', secretKey, 64);
  assertBytes('message', message);
  if (platform.ed25519Sign) {
    try {
      return await platform.ed25519Sign(secretKey.subarray(0, 32), secretKey.subarray(32), message);
    } catch {
      // fall through to tweetnacl
    }
  }
  return nacl.sign.detached(message, secretKey);
}

/** Ed25519 verification; never throws on a bad signature, returns false. */
export async function verifyDetached(
  platform: PlatformCrypto,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  assertBytes('publicKey', publicKey, 32);
  assertBytes('message', message);
  assertBytes('signature', signature, 64);
  if (platform.ed25519Verify) {
    try {
      return await platform.ed25519Verify(publicKey, message, signature);
    } catch {
      // unsupported or malformed key: fall back to tweetnacl, which returns false on junk
    }
  }
  return nacl.sign.detached.verify(message, signature, publicKey);
}
