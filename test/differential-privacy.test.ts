import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { EVENTS, decodeFloat32, type UpdateMeta } from '@flock/protocol';
import { FlockClient } from '@flock/client';
import { Coordinator, DifferentiallyPrivate, FedAvg } from '@flock/coordinator';
import { createPresetModel, flatModelOf, selectBackend } from '@flock/model';
import { computeEpsilon, l2Norm } from '@flock/privacy';
import { fashionSlices } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('differential privacy over real sockets', () => {
  it('every update that reaches the coordinator has L2 norm <= C; the served model reports epsilon', async () => {
    await selectBackend('auto');
    const clip = 0.05; // far below an unclipped delta's norm, so clipping must happen
    const strategy = new DifferentiallyPrivate(new FedAvg(), { mode: 'central', noiseMultiplier: 1.0, clip, samplingRate: 1, delta: 1e-5 });
    const init = createPresetModel('mlp', { seed: 5 });
    const coordinator = new Coordinator({ model: await flatModelOf(init), strategy, settings: { minClients: 3, rounds: 2, roundTimeoutMs: 60_000 } });
    init.dispose();
    const url = await coordinator.listen();
    cleanups.push(() => coordinator.close());
    const norms: number[] = [];
    coordinator.io.on('connection', (socket) =>
      socket.use(([event, _meta, bytes], next) => {
        if (event === EVENTS.roundUpdate) norms.push(l2Norm(decodeFloat32(new Uint8Array(bytes as Buffer), coordinator.numParams)));
        next();
      }),
    );
    const data = await fashionSlices(3, 80);
    const clients = data.map((d, i) => new FlockClient({ url, clientId: `dp-${i}`, model: () => createPresetModel('mlp'), data: d, seed: i }));
    cleanups.push(async () => {
      await Promise.all(clients.map((c) => c.stop()));
      for (const d of data) tf.dispose([d.x, d.y]);
    });
    await Promise.all(clients.map((c) => c.start()));
    coordinator.start();
    await coordinator.whenDone();
    expect(norms).toHaveLength(6);
    for (const n of norms) {
      expect(n).toBeLessThanOrEqual(clip * (1 + 1e-6));
      // A round of local SGD moves the weights much further than 0.05: the clip was binding.
      expect(n).toBeGreaterThan(clip * (1 - 1e-4));
    }
    const info = (await (await fetch(`${url}/v1/models/latest`)).json()) as { version: number; metrics: Record<string, number> };
    expect(info.version).toBe(2);
    expect(info.metrics.epsilon).toBeCloseTo(computeEpsilon({ q: 1, sigma: 1, steps: 2, delta: 1e-5 }).epsilon, 9);
    expect(info.metrics.clip).toBe(clip);
  });
});
