// A client's identity survives a restart through its platform's identity store (IndexedDB in a
// browser; here the in-memory store, same interface): a reloaded app reconnects as the same
// client without its single-use enrollment token. Real coordinator in token mode on loopback.
import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FlockClient, defaultPlatform, memoryIdentityStore, type ClientPlatform } from '@flock/client';
import { createPresetModel } from '@flock/model';
import { fashionSlices, startCoordinator } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('persisted client identity', () => {
  it('a restarted client reconnects as the same enrolled client without its token; another store cannot', async () => {
    const { coordinator, url } = await startCoordinator({ auth: 'tokens', minClients: 1, rounds: 1 });
    cleanups.push(() => coordinator.close());
    const [a] = await fashionSlices(1, 16);
    cleanups.push(() => tf.dispose([a!.x, a!.y]));
    const store = memoryIdentityStore();
    const platform: ClientPlatform = { ...defaultPlatform, identityStore: store };
    const { token, id: tokenId } = coordinator.auth.mintToken({ label: 'tab' });
    const make = (p: ClientPlatform, t?: string) => new FlockClient({ url, platform: p, ...(t ? { token: t } : {}), model: () => createPresetModel('mlp'), data: a! });

    const first = make(platform, token);
    await first.start();
    const id = first.clientId;
    expect((await coordinator.auth.registry.getToken(tokenId))?.boundClientId).toBe(id);
    await first.stop();

    // "Reload": a new FlockClient, same store, no token at all.
    const second = make(platform);
    const welcome = await second.start();
    expect(second.clientId).toBe(id);
    expect(welcome.clientId).toBe(id);
    expect(coordinator.connectedClients).toContain(id);
    await second.stop();

    // Without the stored identity there is nothing to prove: refused.
    const stranger = make({ ...defaultPlatform, identityStore: memoryIdentityStore() });
    await expect(stranger.start()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    // persistIdentity: false ignores the store (a fresh identity, no token): refused as well.
    const opted = new FlockClient({ url, platform, persistIdentity: false, model: () => createPresetModel('mlp'), data: a! });
    await expect(opted.start()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });
});
