// A client whose model download or upload fails declines the round at once, so the coordinator
// stops waiting for it (real coordinator and SDK on loopback; the failures are injected at the
// network edge: the app's ClientPlatform fetch, the SDK's fault hook before sending).
import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FlockClient, defaultPlatform, type ClientPlatform } from '@flock/client';
import { createPresetModel } from '@flock/model';
import type { FlockError } from '@flock/protocol';
import { fashionSlices, nextRound, startCoordinator } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A platform whose downloads of model weights fail as a browser's do when CORS or the network refuses them. */
const weightsBlocked: ClientPlatform = {
  ...defaultPlatform,
  fetch: (url, init) => (url.endsWith('/weights.bin') ? Promise.reject(new TypeError('Failed to fetch')) : defaultPlatform.fetch(url, init)),
};

describe('a failed download or upload declines the round', () => {
  // The round's deadline is far beyond the test's timeout: only a decline lets it end in time.
  const settings = { minClients: 1, rounds: 1, roundTimeoutMs: 600_000 };

  it('a failed model download: the client declines, the round commits with the other client without waiting for the deadline', async () => {
    const { coordinator, url } = await startCoordinator(settings);
    cleanups.push(() => coordinator.close());
    const [a, b] = await fashionSlices(2, 32);
    cleanups.push(() => tf.dispose([a!.x, a!.y, b!.x, b!.y]));
    const good = new FlockClient({ url, clientId: 'good', model: () => createPresetModel('mlp'), data: a! });
    const blocked = new FlockClient({ url, clientId: 'blocked', model: () => createPresetModel('mlp'), data: b!, platform: weightsBlocked });
    cleanups.push(() => Promise.all([good.stop(), blocked.stop()]).then(() => undefined));
    const errors: FlockError[] = [];
    blocked.on('error', (e) => errors.push(e));
    await Promise.all([good.start(), blocked.start()]);
    const round = nextRound(coordinator);
    coordinator.start();
    const s = await round;
    expect(s.status).toBe('committed');
    expect(s.reporters).toEqual(['good']);
    expect(s.rejected).toEqual([{ clientId: 'blocked', code: 'DECLINED' }]);
    expect(errors[0]?.code).toBe('UNREACHABLE');
    expect(errors[0]?.message).toMatch(/weights\.bin failed: Failed to fetch/);
  }, 30_000);

  it('a failed upload: the client declines, the round ends without waiting for the deadline', async () => {
    const { coordinator, url } = await startCoordinator(settings);
    cleanups.push(() => coordinator.close());
    const [a, b] = await fashionSlices(2, 32);
    cleanups.push(() => tf.dispose([a!.x, a!.y, b!.x, b!.y]));
    const good = new FlockClient({ url, clientId: 'good', model: () => createPresetModel('mlp'), data: a! });
    const failing = new FlockClient({
      url,
      clientId: 'failing',
      model: () => createPresetModel('mlp'),
      data: b!,
      faults: {
        delay: () => {
          throw new Error('socket send failed');
        },
      },
    });
    cleanups.push(() => Promise.all([good.stop(), failing.stop()]).then(() => undefined));
    const reports: Array<{ accepted: boolean; error?: string }> = [];
    failing.on('round:report', (r) => reports.push({ accepted: r.accepted, ...(r.error ? { error: r.error.message } : {}) }));
    failing.on('error', () => undefined);
    await Promise.all([good.start(), failing.start()]);
    const round = nextRound(coordinator);
    coordinator.start();
    const s = await round;
    expect(s.status).toBe('committed');
    expect(s.reporters).toEqual(['good']);
    expect(s.rejected).toEqual([{ clientId: 'failing', code: 'DECLINED' }]);
    expect(reports).toEqual([{ accepted: false, error: 'socket send failed' }]);
  }, 30_000);
});
