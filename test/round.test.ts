import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { EVENTS, hashModel, type UpdateMeta } from '@flock/protocol';
import { FlockClient } from '@flock/client';
import { createPresetModel, getFlatWeights } from '@flock/model';
import type { Coordinator } from '@flock/coordinator';
import { fashionSlices, nextRound, RawPeer, startCoordinator, waitFor } from './helpers.js';
import { sendUpdate } from './upload-helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function sdkClients(url: string, n: number, perClient: number): Promise<FlockClient[]> {
  const data = await fashionSlices(n, perClient);
  const clients = data.map((d, i) => new FlockClient({ url, clientId: `sdk-${i}`, model: () => createPresetModel('mlp'), data: d, seed: i }));
  cleanups.push(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    for (const d of data) tf.dispose([d.x, d.y]);
  });
  await Promise.all(clients.map((c) => c.start()));
  return clients;
}

function track(coordinator: Coordinator): void {
  cleanups.push(() => coordinator.close());
}

describe('a training round over real sockets', () => {
  it('commits the example-weighted FedAvg of exactly the deltas the clients sent', async () => {
    const { coordinator, url } = await startCoordinator({ minClients: 3, rounds: 1, roundTimeoutMs: 60_000, train: { epochs: 1, batchSize: 32, learningRate: 0.1 } });
    track(coordinator);
    // Updates travel sealed (protocol/v1.md 5.4a): capture each as the client computed it.
    const received: Array<{ numExamples: number; delta: Float32Array }> = [];
    const global = coordinator.store.latest().weights.slice();
    // Unequal data sizes so the weighting matters.
    const data = await fashionSlices(3, 240);
    const sizes = [240, 120, 60];
    const clients = data.map((d, i) => {
      const x = d.x.slice(0, sizes[i]);
      const y = d.y.slice(0, sizes[i]);
      tf.dispose([d.x, d.y]);
      return new FlockClient({ url, clientId: `w-${i}`, model: () => createPresetModel('mlp'), data: { x, y }, seed: i });
    });
    for (const c of clients) c.on('update', (u) => received.push({ numExamples: u.numExamples, delta: u.delta.slice() }));
    cleanups.push(async () => {
      await Promise.all(clients.map((c) => c.stop()));
    });
    await Promise.all(clients.map((c) => c.start()));
    const round = nextRound(coordinator);
    coordinator.start();
    const summary = await round;
    expect(summary.status).toBe('committed');
    expect(received.map((r) => r.numExamples).sort((a, b) => a - b)).toEqual([60, 120, 240]);
    const total = received.reduce((a, r) => a + r.numExamples, 0);
    const expected = new Float32Array(global.length);
    for (let i = 0; i < global.length; i++) {
      let s = 0;
      for (const r of received) s += r.numExamples * r.delta[i]!;
      expected[i] = global[i]! + s / total;
    }
    const committed = coordinator.store.get(1)!.weights;
    let maxDiff = 0;
    for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(committed[i]! - expected[i]!));
    expect(maxDiff).toBeLessThanOrEqual(1e-6);
    // And it really moved: training changed the model.
    let moved = 0;
    for (let i = 0; i < global.length; i++) moved = Math.max(moved, Math.abs(committed[i]! - global[i]!));
    expect(moved).toBeGreaterThan(1e-3);
  });

  it('serves the committed model over HTTP: tf.loadLayersModel loads it and it hashes to the committed hash', async () => {
    const { coordinator, url } = await startCoordinator({ minClients: 2, rounds: 1, roundTimeoutMs: 60_000 });
    track(coordinator);
    await sdkClients(url, 2, 100);
    coordinator.start();
    await coordinator.whenDone();
    const info = (await (await fetch(`${url}/v1/models/latest`)).json()) as { version: number; hash: string };
    expect(info.version).toBe(1);
    expect(info.hash).toBe(coordinator.store.latest().hash);
    const model = await tf.loadLayersModel(`${url}/v1/models/latest/model.json`);
    const spec = { format: 'flock-weights/v1' as const, weights: model.weights.map((w) => ({ name: w.originalName, shape: w.shape as number[], dtype: 'float32' as const })) };
    expect(hashModel(spec, getFlatWeights(model))).toBe(info.hash);
    model.dispose();
    // Versioned URLs are immutable and conditional requests get 304.
    const res = await fetch(`${url}/v1/models/1/weights.bin`);
    expect(res.headers.get('cache-control')).toContain('immutable');
    const etag = res.headers.get('etag')!;
    await res.arrayBuffer();
    const again = await fetch(`${url}/v1/models/1/weights.bin`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    const missing = await fetch(`${url}/v1/models/99`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('MODEL_NOT_FOUND');
  });

  it('a client that vanishes mid-round delays the round no longer than its deadline', async () => {
    const timeout = 4_000;
    const { coordinator, url } = await startCoordinator({ minClients: 2, rounds: 1, roundTimeoutMs: timeout });
    track(coordinator);
    await sdkClients(url, 2, 60);
    const ghost = new RawPeer(url, 'ghost');
    cleanups.push(() => ghost.close());
    await ghost.connected();
    ghost.socket.once(EVENTS.roundStart, () => ghost.socket.disconnect()); // selected, then gone
    const round = nextRound(coordinator);
    coordinator.start();
    const summary = await round;
    expect(summary.selected).toContain('ghost');
    expect(summary.status).toBe('committed');
    expect(summary.reporters).toEqual(['sdk-0', 'sdk-1']);
    expect(summary.seconds).toBeLessThan(timeout / 1000 + 2);
  });

  it('a cohort member whose connection closes (kill -9) ends the round one reconnection grace later, not at the deadline', async () => {
    const timeout = 60_000;
    const { coordinator, url } = await startCoordinator({ minClients: 2, rounds: 1, roundTimeoutMs: timeout, reconnectGraceMs: 300 });
    track(coordinator);
    await sdkClients(url, 2, 60);
    const ghost = new RawPeer(url, 'ghost');
    cleanups.push(() => ghost.close());
    await ghost.connected();
    ghost.socket.once(EVENTS.roundStart, () => ghost.socket.disconnect()); // selected, then its process dies
    const round = nextRound(coordinator);
    coordinator.start();
    const summary = await round;
    expect(summary.selected).toContain('ghost');
    expect(summary.status).toBe('committed');
    expect(summary.reporters).toEqual(['sdk-0', 'sdk-1']);
    expect(summary.seconds).toBeLessThan(timeout / 1000 / 2);
  });

  it('a round whose quorum can no longer be met by the members still connected is abandoned early with TOO_FEW_REPORTS', async () => {
    const timeout = 60_000;
    const { coordinator, url } = await startCoordinator({ minClients: 3, rounds: 1, roundTimeoutMs: timeout, reconnectGraceMs: 300 });
    track(coordinator);
    const peers = ['quiet-a', 'quiet-b', 'doomed'].map((id) => new RawPeer(url, id));
    cleanups.push(() => peers.forEach((p) => p.close()));
    await Promise.all(peers.map((p) => p.connected()));
    peers[2]!.socket.once(EVENTS.roundStart, () => peers[2]!.socket.disconnect()); // the quiet two could still report, but 2 < 3
    const round = nextRound(coordinator);
    coordinator.start();
    const summary = await round;
    expect(summary.status).toBe('abandoned');
    expect(summary.reason?.code).toBe('TOO_FEW_REPORTS');
    expect(summary.seconds).toBeLessThan(timeout / 1000 / 2);
  });

  it('abandons a round with too few reports and keeps the model unchanged', async () => {
    const { coordinator, url } = await startCoordinator({ minClients: 3, rounds: 1, roundTimeoutMs: 1_500 });
    track(coordinator);
    await sdkClients(url, 1, 60);
    const silent = [new RawPeer(url, 'silent-a'), new RawPeer(url, 'silent-b')];
    cleanups.push(() => silent.forEach((p) => p.close()));
    await Promise.all(silent.map((p) => p.connected()));
    const before = coordinator.store.latest();
    const round = nextRound(coordinator);
    coordinator.start();
    const summary = await round;
    expect(summary.status).toBe('abandoned');
    expect(summary.reason?.code).toBe('TOO_FEW_REPORTS');
    expect(coordinator.store.latest().version).toBe(before.version);
    expect(coordinator.store.latest().hash).toBe(before.hash);
    // Clients are told the round ended without a model.
    const ended = await new Promise<{ status: string }>((resolve) => silent[0]!.socket.once(EVENTS.roundEnd, resolve));
    expect(ended.status).toBe('abandoned');
  });
});

describe('updates that must never be aggregated', () => {
  it('rejects NaN/Inf, wrong-shape, duplicate, stale-round and wrong-version updates with typed errors', async () => {
    const { coordinator, url } = await startCoordinator({ minClients: 2, rounds: 1, roundTimeoutMs: 4_000 });
    track(coordinator);
    const names = ['good-a', 'good-b', 'nan', 'inf', 'shape', 'version'];
    const peers = names.map((n) => new RawPeer(url, n));
    cleanups.push(() => peers.forEach((p) => p.close()));
    await Promise.all(peers.map((p) => p.connected()));
    const starts = peers.map((p) => p.nextStart());
    const round = nextRound(coordinator);
    coordinator.start();
    const s = await starts[0]!;
    await Promise.all(starts);
    const m = coordinator.numParams;
    const meta = (n = 10): UpdateMeta => ({ roundId: s.roundId, modelVersion: s.modelVersion, numExamples: n });
    const ones = new Float32Array(m).fill(0.5);
    const threes = new Float32Array(m).fill(-0.25);
    const [a, b, nan, inf, shape, version] = peers as [RawPeer, RawPeer, RawPeer, RawPeer, RawPeer, RawPeer];
    expect(await sendUpdate(a, meta(30), ones)).toEqual({ ok: true });
    const dup = await sendUpdate(a, meta(30), ones);
    expect(dup).toMatchObject({ ok: false, error: { code: 'DUPLICATE_UPDATE' } });
    const stale = await sendUpdate(b, { ...meta(), roundId: '0-stale' }, threes);
    expect(stale).toMatchObject({ ok: false, error: { code: 'ROUND_NOT_ACTIVE' } });
    expect(await sendUpdate(b, meta(10), threes)).toEqual({ ok: true });
    const withNan = ones.slice();
    withNan[123] = NaN;
    expect(await sendUpdate(nan, meta(), withNan)).toMatchObject({ ok: false, error: { code: 'NON_FINITE', details: { index: 123 } } });
    const withInf = ones.slice();
    withInf[m - 1] = -Infinity;
    expect(await sendUpdate(inf, meta(), withInf)).toMatchObject({ ok: false, error: { code: 'NON_FINITE' } });
    expect(await sendUpdate(shape, meta(), new Float32Array(m - 1))).toMatchObject({ ok: false, error: { code: 'WRONG_SHAPE' } });
    expect(await sendUpdate(version, { ...meta(), modelVersion: 7 }, ones)).toMatchObject({ ok: false, error: { code: 'MODEL_VERSION_MISMATCH' } });
    const summary = await round;
    expect(summary.status).toBe('committed');
    expect(summary.reporters).toEqual(['good-a', 'good-b']);
    expect(summary.rejected.map((r) => r.code).sort()).toEqual(['MODEL_VERSION_MISMATCH', 'NON_FINITE', 'NON_FINITE', 'WRONG_SHAPE']);
    // Only the two good updates went in: 0.5 weighted 30, -0.25 weighted 10.
    const g0 = coordinator.store.get(0)!.weights;
    const g1 = coordinator.store.get(1)!.weights;
    const mean = (30 * 0.5 + 10 * -0.25) / 40;
    for (const i of [0, 123, m - 1]) expect(g1[i]! - g0[i]!).toBeCloseTo(mean, 6);
    // After the round, a report for it is late; a client whose upload was counted is told so
    // (protocol/v1.md 5.4a: a retry after a lost final ack learns its update was delivered).
    const late = await sendUpdate(nan, meta(), ones);
    expect(late).toMatchObject({ ok: false, error: { code: 'LATE_UPDATE' } });
    expect(await sendUpdate(a, meta(), ones)).toMatchObject({ ok: false, error: { code: 'DUPLICATE_UPDATE' } });
  });
});
