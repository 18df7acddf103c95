// What `@flock/client/node` resolves to under the `browser` export condition (bundlers building
// for a web page): browsers verify TLS against the OS trust store and cannot take a CA, so the
// platform is the default one (fetch, WebCrypto). Node resolves the real helpers, node.ts.
import { defaultPlatform, type ClientPlatform } from './platform.js';
import type { NodePlatformOptions } from './node.js';

export type { NodePlatformOptions } from './node.js';

/** In a browser: the default platform (the `ca` option has no effect; the OS trust store decides). */
export function nodeClientPlatform(_options: NodePlatformOptions = {}): ClientPlatform {
  return defaultPlatform;
}
