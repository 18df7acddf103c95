import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FlockClient } from '@flock/client';
import { createPresetModel } from '@flock/model';
import { fashionSlices, startCoordinator, waitFor } from './helpers.js';

describe('no tensor leaks across rounds', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('tf.memory().numTensors is the same after round 2 and round 10 (clients and coordinator in one process)', async () => {
    const { coordinator, url } = await startCoordinator({ minClients: 2, rounds: 10, roundTimeoutMs: 60_000, evaluateEvery: 3, train: { epochs: 1, batchSize: 16, learningRate: 0.05 } });
    cleanups.push(() => coordinator.close());
    const data = await fashionSlices(2, 64);
    const clients = data.map((d, i) => new FlockClient({ url, clientId: `leak-${i}`, model: () => createPresetModel('mlp'), data: d, seed: i }));
    cleanups.push(async () => {
      await Promise.all(clients.map((c) => c.stop()));
      for (const d of data) tf.dispose([d.x, d.y]);
    });
    const counts = new Map<number, number>();
    const reportsInRound = new Map<number, number>();
    for (const c of clients) {
      c.on('round:report', (r) => {
        if (r.kind !== 'train') return;
        const n = (reportsInRound.get(r.modelVersion) ?? 0) + 1;
        reportsInRound.set(r.modelVersion, n);
        // Both clients done with training round (modelVersion + 1).
        if (n === clients.length) counts.set(r.modelVersion + 1, tf.memory().numTensors);
      });
    }
    await Promise.all(clients.map((c) => c.start()));
    coordinator.start();
    await coordinator.whenDone();
    await waitFor(() => counts.has(10), 30_000, 'the reports of round 10');
    expect(counts.get(2)).toBeDefined();
    expect(counts.get(10)).toBe(counts.get(2));
  });
});
