import { AUTH_CHALLENGE_PATH, PROTOCOL_VERSION, authChallengeSchema, authSignedMessage } from '@flock/protocol';
import { signDetached, toHex, type IdentityKeyPair, type PlatformCrypto } from '@flock/privacy';
import type { ClientPlatform } from './platform.js';

export interface HandshakeInput {
  /** Coordinator base URL (no trailing slash). */
  base: string;
  clientId: string;
  identity: IdentityKeyPair;
  /** Enrollment token; sent only while `enrolled` is false. */
  token: string | undefined;
  enrolled: boolean;
  platform: ClientPlatform;
  crypto: PlatformCrypto;
}

/**
 * Builds the socket.io handshake `auth` object for one connection attempt: fetches a fresh
 * single-use challenge nonce and signs (domain | federationId | clientId | nonce) with the
 * identity key. If the challenge cannot be fetched the bare auth goes out and the
 * coordinator's refusal (or the network error) tells the caller why.
 */
export async function buildHandshakeAuth(input: HandshakeInput): Promise<Record<string, unknown>> {
  const bare = { protocolVersion: PROTOCOL_VERSION, clientId: input.clientId };
  let res;
  try {
    res = await input.platform.fetch(`${input.base}${AUTH_CHALLENGE_PATH}`, { method: 'POST' });
  } catch {
    return bare;
  }
  if (!res.ok) return bare;
  let parsed;
  try {
    parsed = authChallengeSchema.safeParse(JSON.parse(await res.text()));
  } catch {
    return bare;
  }
  if (!parsed.success) return bare;
  const c = parsed.data;
  if (c.auth === 'open') return bare;
  const signature = await signDetached(input.crypto, input.identity.secretKey, authSignedMessage(c.federationId, input.clientId, c.nonce));
  return {
    ...bare,
    publicKey: toHex(input.identity.publicKey),
    nonce: c.nonce,
    signature: toHex(signature),
    ...(input.token && !input.enrolled ? { token: input.token } : {}),
  };
}
