import { describe, expect, it } from 'vitest';
import { AUTH_CHALLENGE_PATH, PROTOCOL_VERSION, authSignedMessage } from '@flock/protocol';
import { fromHex, generateIdentityKeyPair, verifyDetached, webPlatform } from '@flock/privacy';
import { buildHandshakeAuth } from './auth.js';
import { defaultPlatform, type ClientPlatform } from './platform.js';

/** A platform whose fetch answers the challenge endpoint with a fixed body (unit test of the handshake builder). */
function platformAnswering(body: unknown, status = 200, calls: string[] = []): ClientPlatform {
  return {
    ...defaultPlatform,
    fetch: async (url, init) => {
      calls.push(`${init?.method ?? 'GET'} ${url}`);
      const text = JSON.stringify(body);
      return { ok: status === 200, status, text: async () => text, arrayBuffer: async () => new TextEncoder().encode(text).buffer as ArrayBuffer };
    },
  };
}

describe('buildHandshakeAuth', () => {
  const identity = generateIdentityKeyPair(webPlatform);
  const challenge = { nonce: 'n'.repeat(32), federationId: 'fed-1', expiresAt: new Date().toISOString(), auth: 'tokens' };

  it('POSTs for a challenge and signs (domain | federation | client | nonce) with the identity key; the token goes only until enrolled', async () => {
    const calls: string[] = [];
    const platform = platformAnswering(challenge, 200, calls);
    const auth = await buildHandshakeAuth({ base: 'http://h:1', clientId: 'c-1', identity, token: 'flk_tok', enrolled: false, platform, crypto: webPlatform });
    expect(calls).toEqual([`POST http://h:1${AUTH_CHALLENGE_PATH}`]);
    expect(auth).toMatchObject({ protocolVersion: PROTOCOL_VERSION, clientId: 'c-1', nonce: challenge.nonce, token: 'flk_tok' });
    const ok = await verifyDetached(webPlatform, fromHex(auth.publicKey as string), authSignedMessage('fed-1', 'c-1', challenge.nonce), fromHex(auth.signature as string));
    expect(ok).toBe(true);
    const later = await buildHandshakeAuth({ base: 'http://h:1', clientId: 'c-1', identity, token: 'flk_tok', enrolled: true, platform, crypto: webPlatform });
    expect(later).not.toHaveProperty('token');
  });

  it('sends the bare auth to open coordinators and when the challenge cannot be had', async () => {
    const bare = { protocolVersion: PROTOCOL_VERSION, clientId: 'c-1' };
    const input = { base: 'http://h:1', clientId: 'c-1', identity, token: undefined, enrolled: false, crypto: webPlatform };
    expect(await buildHandshakeAuth({ ...input, platform: platformAnswering({ ...challenge, auth: 'open' }) })).toEqual(bare);
    expect(await buildHandshakeAuth({ ...input, platform: platformAnswering({ error: {} }, 404) })).toEqual(bare);
    expect(await buildHandshakeAuth({ ...input, platform: platformAnswering({ nonce: 1 }) })).toEqual(bare);
    expect(await buildHandshakeAuth({ ...input, platform: { ...defaultPlatform, fetch: () => Promise.reject(new Error('ECONNREFUSED')) } })).toEqual(bare);
  });
});
