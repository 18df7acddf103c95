import { indexedDbIdentityStore, type IdentityStore } from './identity.js';

/**
 * What the SDK needs from its platform. The defaults use web-standard globals that exist in
 * browsers, Node >= 20, Deno and Electron; pass your own to run elsewhere (React Native...).
 */
export interface ClientPlatform {
  fetch(url: string, init?: { method?: string; headers?: Record<string, string> }): Promise<{ ok: boolean; status: number; arrayBuffer(): Promise<ArrayBuffer>; text(): Promise<string> }>;
  randomBytes(n: number): Uint8Array;
  now(): number;
  /**
   * Keeps the client id, identity key and enrollment state between runs (identity.ts). The
   * default platform uses IndexedDB where it exists (browsers, Web Workers); Node has none (the
   * app persists `clientId` and `identity`, or passes a store).
   */
  identityStore?: IdentityStore | undefined;
}

export const defaultPlatform: ClientPlatform = {
  fetch: (url, init) => globalThis.fetch(url, init),
  randomBytes: (n) => globalThis.crypto.getRandomValues(new Uint8Array(n)),
  now: () => Date.now(),
  identityStore: indexedDbIdentityStore(),
};
