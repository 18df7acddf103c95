import nacl from 'tweetnacl';
import type { PlatformCrypto } from '../platform/types.js';
import { assertBytes } from './bytes.js';

/**
 * X25519(secretKey, peerPublicKey): native when the platform offers it (~10x faster), else
 * tweetnacl. Returns the raw 32-byte output; an all-zero output (low-order peer key) is returned
 * as is, and callers MUST reject it.
 */
export async function x25519Shared(
  platform: PlatformCrypto,
  secretKey: Uint8Array,
  publicKey: Uint8Array,
  peerPublicKey: Uint8Array,
): Promise<Uint8Array> {
  assertBytes('secretKey', secretKey, 32);
  assertBytes('publicKey', publicKey, 32);
  assertBytes('peerPublicKey', peerPublicKey, 32);
  if (platform.x25519) {
    try {
      const s = await platform.x25519(secretKey, publicKey, peerPublicKey);
      if (s.length === 32) return s;
    } catch {
      // unsupported, or a low-order point the platform refuses: tweetnacl returns zeros then
    }
  }
  return nacl.scalarMult(secretKey, peerPublicKey);
}
