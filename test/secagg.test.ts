import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { EVENTS, SECAGG_EVENTS, encodeFloat32, packAdvertise, type RoundStart } from '@flock/protocol';
import { FlockClient, type DropStage } from '@flock/client';
import { Coordinator } from '@flock/coordinator';
import { createPresetModel, flatModelOf, selectBackend } from '@flock/model';
import { SecAggClient, generateIdentityKeyPair } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { fashionSlices, nextRound, RawPeer } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const CLIP = 1;

async function secureFederation(n: number, opts: { drop?: Record<number, DropStage>; minClients?: number; stageTimeoutMs?: number; roundTimeoutMs?: number; rounds?: number; reconnectGraceMs?: number } = {}) {
  await selectBackend('auto');
  const init = createPresetModel('mlp', { seed: 3 });
  const coordinator = new Coordinator({
    model: await flatModelOf(init),
    settings: { auth: 'open', minClients: opts.minClients ?? n, rounds: opts.rounds ?? 1, roundTimeoutMs: opts.roundTimeoutMs ?? 60_000, ...(opts.reconnectGraceMs !== undefined ? { reconnectGraceMs: opts.reconnectGraceMs } : {}), secureAggregation: { enabled: true, clip: CLIP, weightCap: 1000, stageTimeoutMs: opts.stageTimeoutMs ?? 5_000 } },
  });
  init.dispose();
  const url = await coordinator.listen();
  cleanups.push(() => coordinator.close());
  // Everything the coordinator receives, as it receives it.
  const transcript: Array<{ from: string; event: string; bytes: Uint8Array[] }> = [];
  coordinator.io.on('connection', (socket) =>
    socket.use((packet, next) => {
      const bytes: Uint8Array[] = [];
      const walk = (v: unknown): void => {
        if (v instanceof Uint8Array) bytes.push(new Uint8Array(v));
        else if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === 'object') Object.values(v).forEach(walk);
      };
      walk(packet.slice(1));
      transcript.push({ from: socket.data.clientId as string, event: String(packet[0]), bytes });
      next();
    }),
  );
  const data = await fashionSlices(n, 60);
  const deltas = new Map<string, { delta: Float32Array; n: number }>();
  const clients = data.map((d, i) => {
    const c = new FlockClient({
      url,
      clientId: `sa-${i}`,
      model: () => createPresetModel('mlp'),
      data: { x: d.x.slice(0, 40 + 5 * i), y: d.y.slice(0, 40 + 5 * i) },
      seed: i,
      crypto: nodePlatform,
      ...(opts.drop?.[i] ? { faults: { dropBefore: () => opts.drop![i] } } : {}),
    });
    c.on('update', (u) => deltas.set(c.clientId, { delta: u.delta, n: u.numExamples }));
    return c;
  });
  cleanups.push(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    for (const d of data) tf.dispose([d.x, d.y]);
  });
  await Promise.all(clients.map((c) => c.start()));
  return { coordinator, url, clients, deltas, transcript };
}

/** The plain weighted FedAvg of per-coordinate clipped deltas of the given clients. */
function expectedModel(global: Float32Array, deltas: Map<string, { delta: Float32Array; n: number }>, ids: string[]): Float64Array {
  const out = new Float64Array(global.length);
  const W = ids.reduce((a, id) => a + deltas.get(id)!.n, 0);
  for (let i = 0; i < global.length; i++) {
    let s = 0;
    for (const id of ids) {
      const { delta, n } = deltas.get(id)!;
      s += n * Math.max(-CLIP, Math.min(CLIP, delta[i]!));
    }
    out[i] = global[i]! + s / W;
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

describe('secure aggregation over real sockets', () => {
  it('commits the weighted FedAvg while the coordinator receives only masked vectors', async () => {
    const { coordinator, deltas, transcript } = await secureFederation(5);
    const g0 = coordinator.store.latest().weights.slice();
    const round = nextRound(coordinator);
    coordinator.start();
    const s = await round;
    expect(s.status).toBe('committed');
    expect(s.reporters).toHaveLength(5);
    // Equal to plain FedAvg up to the quantization step (2^31 / (n * 2 * clip * weightCap) levels).
    expect(maxAbsDiff(coordinator.store.get(1)!.weights, expectedModel(g0, deltas, s.reporters))).toBeLessThan(1e-6);
    // No plaintext update was ever sent, and no window of any delta's bytes appears anywhere.
    expect(transcript.some((t) => t.event === EVENTS.roundUpdate)).toBe(false);
    const masked = transcript.filter((t) => t.event === SECAGG_EVENTS.maskedInput);
    expect(masked).toHaveLength(5);
    for (const { delta } of deltas.values()) {
      const bytes = encodeFloat32(delta);
      for (const offset of [0, 4000, bytes.length - 64]) {
        const window = bytes.subarray(offset, offset + 16);
        for (const t of transcript) for (const b of t.bytes) expect(contains(b, window)).toBe(false);
      }
    }
    // Each masked vector is indistinguishable from uniform bytes (chi-square, 255 dof, p = 1e-4 critical value 347).
    for (const t of masked) {
      const v = t.bytes[0]!;
      const counts = new Float64Array(256);
      for (const b of v) counts[b]!++;
      const e = v.length / 256;
      let chi = 0;
      for (const c of counts) chi += ((c - e) * (c - e)) / e;
      expect(chi).toBeLessThan(347);
    }
  });

  it('recovers from a dropout within the tolerance and aggregates exactly the survivors', async () => {
    // n = 5: full graph, k = 4, t = 3, so one client may drop; sa-2 drops after sharing keys.
    const { coordinator, deltas } = await secureFederation(5, { drop: { 2: 'masked-input' }, minClients: 3, roundTimeoutMs: 8_000 });
    const g0 = coordinator.store.latest().weights.slice();
    const round = nextRound(coordinator);
    coordinator.start();
    const s = await round;
    expect(s.status).toBe('committed');
    expect(s.reporters).toEqual(['sa-0', 'sa-1', 'sa-3', 'sa-4']);
    expect(maxAbsDiff(coordinator.store.get(1)!.weights, expectedModel(g0, deltas, s.reporters))).toBeLessThan(1e-6);
  });

  it('a member whose connection closes mid-stage is counted as dropped one reconnection grace later, not at the stage deadline', async () => {
    // sa-2 goes silent before its masked input and then its connection closes (process killed):
    // with 60 s stage and round deadlines the round must still end within seconds.
    const { coordinator, clients, deltas } = await secureFederation(5, { drop: { 2: 'masked-input' }, minClients: 3, roundTimeoutMs: 60_000, stageTimeoutMs: 60_000, reconnectGraceMs: 300 });
    clients[2]!.on('update', () => void clients[2]!.stop());
    const g0 = coordinator.store.latest().weights.slice();
    const round = nextRound(coordinator);
    coordinator.start();
    const s = await round;
    expect(s.status).toBe('committed');
    expect(s.reporters).toEqual(['sa-0', 'sa-1', 'sa-3', 'sa-4']);
    expect(s.seconds).toBeLessThan(30);
    expect(maxAbsDiff(coordinator.store.get(1)!.weights, expectedModel(g0, deltas, s.reporters))).toBeLessThan(1e-6);
  });

  it('aborts when more clients drop than the threshold allows, revealing nothing and keeping the model', async () => {
    const { coordinator } = await secureFederation(5, { drop: { 1: 'masked-input', 2: 'masked-input', 3: 'unmask' }, minClients: 2, roundTimeoutMs: 8_000, stageTimeoutMs: 3_000 });
    const before = coordinator.store.latest();
    const round = nextRound(coordinator);
    coordinator.start();
    const s = await round;
    expect(s.status).toBe('abandoned');
    expect(s.reason?.code).toBe('SECAGG_ABORTED');
    expect(coordinator.store.latest().hash).toBe(before.hash);
  });

  it('rejects stage messages replayed from another round or session', async () => {
    const { coordinator, url } = await secureFederation(4, { minClients: 4, stageTimeoutMs: 3_000 });
    const raw = new RawPeer(url, 'raw');
    cleanups.push(() => raw.close());
    await raw.connected();
    const start = raw.nextStart();
    const round = nextRound(coordinator);
    coordinator.start();
    const s = (await start) as RoundStart;
    const identity = generateIdentityKeyPair(nodePlatform);
    const advertiseFor = async (session: string, r: number) =>
      packAdvertise(await new SecAggClient({ session, round: r, k: s.secagg!.k, t: s.secagg!.t, vectorLength: s.secagg!.vectorLength, clientId: 'raw', identity, platform: nodePlatform }).advertiseKeys());
    const oldRound = await raw.emitAck(SECAGG_EVENTS.advertiseKeys, await advertiseFor(s.secagg!.session, s.round + 7));
    expect(oldRound).toMatchObject({ ok: false, error: { code: 'SECAGG_REJECTED', details: { reason: 'SECAGG_REPLAY' } } });
    const otherSession = await raw.emitAck(SECAGG_EVENTS.advertiseKeys, await advertiseFor('another-federation:0011', s.round));
    expect(otherSession).toMatchObject({ ok: false, error: { code: 'SECAGG_REJECTED', details: { reason: 'SECAGG_REPLAY' } } });
    // The round goes on without the replaying peer.
    const summary = await round;
    expect(summary.status).toBe('committed');
    expect(summary.reporters).not.toContain('raw');
  });
  it('pins an anonymous client\'s identity key on first use: a later round signed by another key is refused', async () => {
    const { coordinator, url } = await secureFederation(3, { minClients: 3, rounds: 2, stageTimeoutMs: 2_000 });
    const raw = new RawPeer(url, 'raw');
    cleanups.push(() => raw.close());
    await raw.connected();
    const advertise = async (s: RoundStart, identity: ReturnType<typeof generateIdentityKeyPair>) =>
      packAdvertise(await new SecAggClient({ session: s.secagg!.session, round: s.round, k: s.secagg!.k, t: s.secagg!.t, vectorLength: s.secagg!.vectorLength, clientId: 'raw', identity, platform: nodePlatform }).advertiseKeys());
    const first = generateIdentityKeyPair(nodePlatform);
    let start = raw.nextStart();
    const round1 = nextRound(coordinator);
    coordinator.start();
    expect(await raw.emitAck(SECAGG_EVENTS.advertiseKeys, await advertise((await start) as RoundStart, first))).toEqual({ ok: true });
    start = raw.nextStart(); // the peer then falls silent: dropped at the share stage
    expect((await round1).status).toBe('committed');
    const s2 = (await start) as RoundStart;
    expect(await raw.emitAck(SECAGG_EVENTS.advertiseKeys, await advertise(s2, generateIdentityKeyPair(nodePlatform)))).toMatchObject({
      ok: false,
      error: { code: 'SECAGG_REJECTED', details: { reason: 'SECAGG_BAD_SIGNATURE' } },
    });
  });
});
