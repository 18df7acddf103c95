import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FlockClient, type RoundReport } from '@flock/client';
import { createPresetModel } from '@flock/model';
import type { FederationDone } from '@flock/protocol';
import { fashionSlices, nextRound, startCoordinator, waitFor } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('the client SDK', () => {
  it('trains from a tf.data dataset and loads the model from the coordinator when no factory is given', async () => {
    const { coordinator, url } = await startCoordinator({ minClients: 2, rounds: 1, roundTimeoutMs: 60_000 });
    cleanups.push(() => coordinator.close());
    const [a, b] = await fashionSlices(2, 96);
    cleanups.push(() => tf.dispose([a!.x, a!.y, b!.x, b!.y]));
    const dataset = tf.data.zip({ xs: tf.data.array(tf.unstack(a!.x)), ys: tf.data.array(tf.unstack(a!.y)) }) as unknown as tf.data.Dataset<tf.TensorContainer>;
    const fromDataset = new FlockClient({ url, clientId: 'dataset', data: dataset });
    const fromTensors = new FlockClient({ url, clientId: 'tensors', data: b! });
    cleanups.push(() => Promise.all([fromDataset.stop(), fromTensors.stop()]).then(() => undefined));
    const reports: Array<{ id: string; n: number; ok: boolean }> = [];
    const full: RoundReport[] = [];
    fromDataset.on('round:report', (r) => (reports.push({ id: 'dataset', n: r.numExamples, ok: r.accepted }), full.push(r)));
    fromTensors.on('round:report', (r) => (reports.push({ id: 'tensors', n: r.numExamples, ok: r.accepted }), full.push(r)));
    await Promise.all([fromDataset.start(), fromTensors.start()]);
    const round = nextRound(coordinator);
    coordinator.start();
    const s = await round;
    expect(s.status).toBe('committed');
    await waitFor(() => reports.length === 2, 10_000, 'two reports');
    expect(reports.sort((x, y) => x.id.localeCompare(y.id))).toEqual([
      { id: 'dataset', n: 96, ok: true },
      { id: 'tensors', n: 96, ok: true },
    ]);
    // The phase breakdown accounts for the round: every phase ran, none is negative, and they
    // add up to the reported total (less the few statements between the phases).
    for (const r of full) {
      const { download, prepare, fit, delta, send } = r.phases;
      for (const v of [download, prepare, fit, delta, send]) expect(v).toBeGreaterThanOrEqual(0);
      expect(fit).toBeGreaterThan(0);
      expect(download).toBeGreaterThan(0);
      expect(send).toBeGreaterThan(0);
      const sum = download + prepare + fit + delta + send;
      expect(sum).toBeLessThanOrEqual(r.seconds + 1e-9);
      expect(sum).toBeGreaterThan(0.9 * r.seconds);
    }
  });

  it('tells every client when the configured rounds are done (done event), also one that joins afterwards', async () => {
    const { coordinator, url } = await startCoordinator({ minClients: 1, rounds: 1, roundTimeoutMs: 60_000 });
    cleanups.push(() => coordinator.close());
    const [a] = await fashionSlices(1, 32);
    cleanups.push(() => tf.dispose([a!.x, a!.y]));
    const early = new FlockClient({ url, clientId: 'early', model: () => createPresetModel('mlp'), data: a! });
    const late = new FlockClient({ url, clientId: 'late', model: () => createPresetModel('mlp'), data: a! });
    cleanups.push(() => Promise.all([early.stop(), late.stop()]).then(() => undefined));
    const events: string[] = [];
    const done = new Promise<FederationDone>((resolve) => early.on('done', resolve));
    early.on('round:end', () => events.push('round:end'));
    early.on('done', () => events.push('done'));
    await early.start();
    coordinator.start();
    const d = await done;
    const latest = coordinator.store.latest();
    expect(d).toEqual({ federationId: 'default', rounds: 1, modelVersion: 1, modelHash: latest.hash, modelPath: '/v1/models/1' });
    expect(events).toEqual(['round:end', 'done']);
    // A client connecting to a finished federation learns it right after its welcome.
    const order: string[] = [];
    late.on('welcome', () => order.push('welcome'));
    const lateDone = new Promise<FederationDone>((resolve) => late.on('done', (x) => (order.push('done'), resolve(x))));
    await late.start();
    expect(await lateDone).toEqual(d);
    expect(order).toEqual(['welcome', 'done']);
  });

  it('reconnects after a network cut and takes part in the next round', async () => {
    const { coordinator, url } = await startCoordinator({ minClients: 2, rounds: 2, roundTimeoutMs: 60_000 });
    cleanups.push(() => coordinator.close());
    const data = await fashionSlices(2, 64);
    const clients = data.map((d, i) => new FlockClient({ url, clientId: `rc-${i}`, model: () => createPresetModel('mlp'), data: d }));
    cleanups.push(async () => {
      await Promise.all(clients.map((c) => c.stop()));
      for (const d of data) tf.dispose([d.x, d.y]);
    });
    await Promise.all(clients.map((c) => c.start()));
    const first = nextRound(coordinator);
    coordinator.start();
    expect((await first).status).toBe('committed');
    let reconnected = false;
    clients[0]!.on('connect', () => (reconnected = true));
    clients[0]!.disconnectTransport();
    await waitFor(() => reconnected && coordinator.connectedClients.includes('rc-0'), 20_000, 'the reconnect');
    await coordinator.whenDone();
    const second = coordinator.rounds.filter((r) => r.kind === 'train').at(-1)!;
    expect(second.status).toBe('committed');
    expect(second.reporters).toContain('rc-0');
    // The cut cost no round and no deadline: round 2 was not abandoned or left waiting.
    expect(coordinator.rounds.filter((r) => r.status === 'abandoned')).toEqual([]);
    expect(second.seconds).toBeLessThan(30);
  });
});
