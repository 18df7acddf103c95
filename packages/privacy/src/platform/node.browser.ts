// What `@flock/privacy/node` resolves to under the `browser` export condition (bundlers building
// for a web page): the same names, backed by WebCrypto, so isomorphic app code that passes
// `nodePlatform` still bundles and runs in a browser. Node resolves the real adapter, node.ts.
import type { PlatformCrypto } from './types.js';
import { webPlatform } from './web.js';

export const nodePlatform: PlatformCrypto = webPlatform;
export const nodePlatformWithMaskHelpers: PlatformCrypto = webPlatform;
export default nodePlatform;
