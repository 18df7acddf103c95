import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FlockClient } from '@flock/client';
import { createPresetModel } from '@flock/model';
import type { RoundSummary } from '@flock/coordinator';
import { fashionSlices, startCoordinator, waitFor } from './helpers.js';
import { NetProxy } from './net-proxy.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function federation(settings: Parameters<typeof startCoordinator>[0], names: string[], perClient = 48) {
  const { coordinator, url } = await startCoordinator(settings);
  cleanups.push(() => coordinator.close());
  const proxy = NetProxy.forUrl(url);
  const proxied = await proxy.listen();
  cleanups.push(() => proxy.close());
  const data = await fashionSlices(names.length, perClient);
  // The last client reaches the coordinator through the proxy; it reconnects quickly once the network is back.
  const clients = names.map(
    (id, i) =>
      new FlockClient({
        url: i === names.length - 1 ? proxied : url,
        clientId: id,
        model: () => createPresetModel('mlp'),
        data: data[i]!,
        seed: i,
        socket: { reconnectionDelay: 100, reconnectionDelayMax: 200 },
      }),
  );
  cleanups.push(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    for (const d of data) tf.dispose([d.x, d.y]);
  });
  const rounds: RoundSummary[] = [];
  coordinator.on('round', (s: RoundSummary) => rounds.push(s));
  const updates: Array<{ client: string; round: number; delta: Float32Array; numExamples: number }> = [];
  for (const c of clients) c.on('update', (u) => updates.push({ client: c.clientId, round: u.round, delta: u.delta.slice(), numExamples: u.numExamples }));
  await Promise.all(clients.map((c) => c.start()));
  return { coordinator, proxy, clients, rounds, updates, cut: clients[clients.length - 1]! };
}

describe('network partitions (loopback TCP proxy)', () => {
  it('a client cut off for longer than the round deadline: the round ends at its deadline without it, and it rejoins the next round cleanly', async () => {
    const f = await federation({ minClients: 2, rounds: 2, roundTimeoutMs: 4_000, roundIntervalMs: 1_500 }, ['p-a', 'p-b', 'p-cut']);
    const errors: string[] = [];
    f.cut.on('error', (e) => errors.push(e.code));
    // Cut the network as soon as the cut client is told about round 1: it cannot report in time.
    f.cut.once('round:start', () => f.proxy.cut());
    f.coordinator.once('round', () => f.proxy.heal()); // back only after round 1 ended (past its deadline)
    f.coordinator.start();
    await f.coordinator.whenDone();
    const [r1, r2] = f.rounds;
    expect(r1!.status).toBe('committed');
    expect(r1!.selected).toContain('p-cut');
    expect(r1!.reporters).toEqual(['p-a', 'p-b']);
    // Round 2: the cut client is back, selected, and its update counts (once).
    expect(r2!.status).toBe('committed');
    expect(r2!.reporters).toEqual(['p-a', 'p-b', 'p-cut']);
    expect(r2!.numExamples).toBe(3 * 48);
    // Its round-1 upload never counted anywhere (late, refused with a typed error, not silently
    // merged); a download cut by the partition is UNREACHABLE.
    expect(errors.filter((c) => c !== 'LATE_UPDATE' && c !== 'UNREACHABLE' && c !== 'INTERNAL')).toEqual([]);
  });

  it.each([
    ['mid-upload (chunk 2)', 2],
    ['after its last chunk arrived, before the ack', 12],
  ])('a client cut off briefly %s resumes on the new connection; its update counts exactly once', async (_what, cutAt) => {
    const f = await federation({ minClients: 3, rounds: 1, roundTimeoutMs: 30_000, uploads: { chunkBytes: 64 * 1024 } }, ['q-a', 'q-b', 'q-cut']);
    expect(Math.ceil((f.coordinator.numParams * 4) / (64 * 1024))).toBe(13); // chunk 12 is the last
    const reports: boolean[] = [];
    f.cut.on('round:report', (r) => reports.push(r.accepted));
    const global = f.coordinator.store.latest().weights.slice();
    // Cut the network when the coordinator has received chunk 2 of the cut client's upload (its
    // ack is lost with the connection); heal shortly after.
    let cuts = 0;
    const begins: string[] = [];
    const tap = (socket: import('socket.io').Socket): void => {
      socket.use(([event, head], next) => {
        if (socket.data.clientId === 'q-cut' && event === 'round:upload') begins.push((head as { uploadId: string }).uploadId);
        if (socket.data.clientId === 'q-cut' && event === 'round:chunk' && (head as { index: number }).index === cutAt && cuts === 0) {
          cuts++;
          f.proxy.cut();
          setTimeout(() => f.proxy.heal(), 300);
        }
        next();
      });
    };
    for (const socket of f.coordinator.io.sockets.sockets.values()) tap(socket);
    f.coordinator.io.on('connection', tap);
    f.coordinator.start();
    await f.coordinator.whenDone();
    expect(cuts).toBe(1);
    await waitFor(() => reports.length > 0, 10_000, 'the cut client\'s report');
    // The upload restarted once, from the beginning, with a fresh upload id (after the last chunk
    // had arrived, the restart is answered DUPLICATE_UPDATE, which the client takes as delivered).
    expect(begins).toHaveLength(2);
    expect(new Set(begins).size).toBe(2);
    const [r1] = f.rounds;
    expect(r1!.status).toBe('committed');
    expect(r1!.reporters).toEqual(['q-a', 'q-b', 'q-cut']);
    expect(r1!.numExamples).toBe(3 * 48);
    await waitFor(() => reports.length > 0, 10_000, 'the cut client\'s report');
    expect(reports).toEqual([true]);
    // Aggregate weight: exactly one update per client went in (a duplicate would change the mean).
    expect(f.updates).toHaveLength(3);
    const total = f.updates.reduce((a, u) => a + u.numExamples, 0);
    const committed = f.coordinator.store.get(1)!.weights;
    let maxDiff = 0;
    for (let i = 0; i < global.length; i++) {
      let s = 0;
      for (const u of f.updates) s += u.numExamples * u.delta[i]!;
      maxDiff = Math.max(maxDiff, Math.abs(committed[i]! - (global[i]! + s / total)));
    }
    expect(maxDiff).toBeLessThanOrEqual(1e-6);
  });

  it('a client whose traffic is held (paused, not cut) for a while finishes its upload when it flows again', async () => {
    const f = await federation({ minClients: 3, rounds: 1, roundTimeoutMs: 30_000, uploads: { chunkBytes: 64 * 1024 } }, ['h-a', 'h-b', 'h-held']);
    f.cut.once('update', () => {
      f.proxy.pause();
      setTimeout(() => f.proxy.resume(), 1_000);
    });
    f.coordinator.start();
    await f.coordinator.whenDone();
    expect(f.rounds[0]!.status).toBe('committed');
    expect(f.rounds[0]!.reporters).toEqual(['h-a', 'h-b', 'h-held']);
    await waitFor(() => f.cut.connected, 5_000, 'held client still connected');
  });
});
