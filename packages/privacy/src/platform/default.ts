import type { PlatformCrypto } from './types.js';
import { webPlatform } from './web.js';

/**
 * The platform used when none is passed: WebCrypto, available in browsers and Node >= 20.
 * On Node, pass `nodePlatform` from '@flock/privacy/node' for ~2x faster mask expansion
 * and native Ed25519.
 */
export function defaultPlatform(): PlatformCrypto {
  return webPlatform;
}
