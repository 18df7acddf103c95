/**
 * protocol/v1.md and secagg.md MUSTs on clients, checked on the reference SDK from the
 * coordinator's side of a real socket (what arrived, with or without an ack id), and the
 * coordinator's secure-aggregation refusals on the wire (protocol/v1.md 15).
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { io, type Socket } from 'socket.io-client';
import { EVENTS, PROTOCOL_VERSION, SECAGG_EVENTS, UPLOAD_EVENTS, chunkCount, packAdvertise, type RoundStart, type Welcome } from '@flock/protocol';
import { FlockClient, UploadSealer, defaultPlatform, uploadUpdate, type ClientPlatform } from '@flock/client';
import { Coordinator, type AuditLog, type CoordinatorSettingsInput, type RoundSummary } from '@flock/coordinator';
import { createPresetModel, flatModelOf, selectBackend } from '@flock/model';
import { SecAggClient, generateIdentityKeyPair, toHex } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { fashionSlices, nextRound, RawPeer, startCoordinator, waitFor } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Arrival {
  clientId: string;
  event: string;
  acked: boolean;
  args: unknown[];
}

/** Every client event the coordinator receives, with whether it carried an ack id. */
function recordArrivals(c: Coordinator): Arrival[] {
  const seen: Arrival[] = [];
  c.io.on('connection', (socket) =>
    socket.onAny((event: string, ...args: unknown[]) => {
      const acked = typeof args[args.length - 1] === 'function';
      seen.push({ clientId: socket.data.clientId as string, event, acked, args: acked ? args.slice(0, -1) : args });
    }),
  );
  return seen;
}

async function federation(settings: CoordinatorSettingsInput) {
  const f = await startCoordinator(settings);
  cleanups.push(() => f.coordinator.close());
  return { ...f, arrivals: recordArrivals(f.coordinator) };
}

async function sdk(url: string, clientId: string, extra: Partial<ConstructorParameters<typeof FlockClient>[0]> = {}): Promise<FlockClient> {
  const [d] = await fashionSlices(1, 64);
  const client = new FlockClient({ url, clientId, model: () => createPresetModel('mlp'), data: d!, seed: 1, ...extra });
  cleanups.push(async () => {
    await client.stop();
    tf.dispose([d!.x, d!.y]);
  });
  return client;
}

describe('the SDK on the wire (v1.md 2.2, 2.3, 5.4, 5.4a)', () => {
  it('sends every client event with an ack id, never round:update to a sealing coordinator, and the update as sealed chunks of at most welcome.uploads.chunkBytes', async () => {
    const chunkBytes = 65_536;
    const { coordinator: c, url, arrivals } = await federation({ minClients: 1, rounds: 1, roundTimeoutMs: 60_000, uploads: { chunkBytes, sealRequired: true } });
    const client = await sdk(url, 'sdk-wire');
    await client.start();
    const round = nextRound(c);
    c.start();
    expect((await round).reporters).toEqual(['sdk-wire']);
    const mine = arrivals.filter((a) => a.clientId === 'sdk-wire');
    expect(mine.every((a) => a.acked)).toBe(true);
    expect(new Set(mine.map((a) => a.event))).toEqual(new Set([UPLOAD_EVENTS.begin, UPLOAD_EVENTS.chunk]));
    const begin = mine.find((a) => a.event === UPLOAD_EVENTS.begin)!.args[0] as { byteLength: number; chunkBytes: number; seal: Uint8Array; uploadId: string; sealSuite?: string };
    expect(begin.sealSuite).toBe('x25519-hkdf-sha256-aes-256-gcm');
    expect(begin.byteLength).toBe(4 * c.numParams);
    expect(begin.chunkBytes).toBeLessThanOrEqual(chunkBytes);
    expect(begin.seal.byteLength).toBe(128);
    const chunks = mine.filter((a) => a.event === UPLOAD_EVENTS.chunk);
    expect(chunks).toHaveLength(chunkCount(begin.byteLength, begin.chunkBytes));
    chunks.forEach((ch, i) => {
      expect(ch.args[0]).toEqual({ roundId: expect.any(String), uploadId: begin.uploadId, index: i });
      // x25519-hkdf-sha256-aes-256-gcm, the SDK's choice against a current coordinator: the tag only (16 bytes).
      expect((ch.args[1] as Uint8Array).byteLength).toBe(Math.min(begin.chunkBytes, begin.byteLength - i * begin.chunkBytes) + 16);
    });
  });

  it('checks the model hash: weights that do not hash to round:start.modelHash are neither trained on nor reported', async () => {
    const { coordinator: c, url, arrivals } = await federation({ minClients: 1, rounds: 1, roundTimeoutMs: 4_000 });
    // A cache or proxy that alters one byte of the weights on the way.
    const tampering: ClientPlatform = {
      ...defaultPlatform,
      fetch: async (u, init) => {
        const res = await defaultPlatform.fetch(u, init);
        if (!u.endsWith('/weights.bin')) return res;
        const body = new Uint8Array(await res.arrayBuffer());
        body[body.length - 1]! ^= 1;
        return { ok: res.ok, status: res.status, arrayBuffer: async () => body.buffer, text: async () => '' };
      },
    };
    const client = await sdk(url, 'hash-check', { platform: tampering });
    const reports: Array<{ error?: { code: string } }> = [];
    client.on('round:report', (r) => reports.push(r));
    client.on('error', () => undefined);
    let trained = false;
    client.on('update', () => (trained = true));
    await client.start();
    const round = nextRound(c);
    c.start();
    await waitFor(() => reports.length > 0, 20_000, 'the round report');
    expect(reports[0]!.error?.code).toBe('MODEL_HASH_MISMATCH');
    expect(trained).toBe(false);
    const summary = await round;
    expect(summary.reporters).toEqual([]);
    // No update: the only thing the client sends for the round is its decline, naming why.
    const sent = arrivals.filter((a) => a.clientId === 'hash-check');
    expect(sent.map((a) => a.event)).toEqual(['round:decline']);
    expect((sent[0]!.args[0] as { reason: string }).reason).toMatch(/^download failed: MODEL_HASH_MISMATCH/);
    expect(summary.rejected).toEqual([{ clientId: 'hash-check', code: 'DECLINED' }]);
  });

  it('a refused first connection is final: one handshake, start() rejects with the refusal', async () => {
    const events: Array<{ action: string; code?: unknown }> = [];
    const audit: AuditLog = { record: (e) => void events.push(e) };
    await selectBackend('auto');
    const m = createPresetModel('mlp', { seed: 1 });
    const model = await flatModelOf(m);
    m.dispose();
    const c = new Coordinator({ model, settings: { auth: 'tokens', minClients: 1 }, audit });
    const url = await c.listen(0, '127.0.0.1');
    cleanups.push(() => c.close());
    let engineConnections = 0;
    c.io.engine.on('connection', () => engineConnections++);
    const client = await sdk(url, 'no-token');
    await expect(client.start()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(events.filter((e) => e.action === 'auth.refused')).toHaveLength(1);
    expect(engineConnections).toBe(1);
  });

  it('acts once on a round:start re-sent after a reconnect, and its update counts once', async () => {
    const { coordinator: c, url, arrivals } = await federation({ minClients: 1, rounds: 1, roundTimeoutMs: 60_000 });
    const starts: string[] = [];
    // A middleware, so the listener is in place before the coordinator's welcome and re-sent round:start.
    c.io.use((s, next) => {
      s.onAnyOutgoing((event: string) => event === EVENTS.roundStart && starts.push(s.id));
      next();
    });
    let cut = false;
    const client = await sdk(url, 'once', {
      faults: {
        // After training, before the upload: cut the connection and wait for the re-sent round:start.
        delay: async () => {
          if (cut) return;
          cut = true;
          client.disconnectTransport();
          await waitFor(() => starts.length >= 2, 20_000, 'round:start re-sent on the new connection');
        },
      },
    });
    let acted = 0;
    client.on('round:start', () => acted++);
    const reports: unknown[] = [];
    client.on('round:report', (r) => reports.push(r));
    await client.start();
    const round = nextRound(c);
    c.start();
    const summary = await round;
    expect(new Set(starts).size).toBe(2); // sent to two connections
    expect(acted).toBe(1);
    await waitFor(() => reports.length > 0, 10_000, 'the round report');
    await new Promise((r) => setTimeout(r, 300));
    expect(reports).toHaveLength(1);
    expect(summary.reporters).toEqual(['once']);
    expect(arrivals.filter((a) => a.event === UPLOAD_EVENTS.begin)).toHaveLength(1);
  });

  it('an upload cut mid-way restarts from round:upload with a new uploadId on the next connection; it counts once', async () => {
    const { coordinator: c, url, arrivals } = await federation({ minClients: 1, rounds: 1, roundTimeoutMs: 60_000, uploads: { chunkBytes: 65_536, sealRequired: true } });
    let welcome: { sid: string | undefined; w: Welcome } | undefined;
    const socket: Socket = io(url, { auth: { protocolVersion: PROTOCOL_VERSION, clientId: 'cut' }, transports: ['websocket'], reconnectionDelay: 100, forceNew: true });
    cleanups.push(() => void socket.disconnect());
    socket.on(EVENTS.welcome, (w: Welcome) => (welcome = { sid: socket.id, w }));
    const start = new Promise<RoundStart>((resolve) => socket.once(EVENTS.roundStart, resolve));
    await waitFor(() => welcome !== undefined, 10_000, 'welcome');
    const round = nextRound(c);
    c.start();
    const s = await start;
    const delta = new Float32Array(c.numParams).fill(0.25);
    const identity = generateIdentityKeyPair(nodePlatform);
    let cutDone = false;
    await uploadUpdate({
      socket,
      welcome: () => (welcome && welcome.sid === socket.id ? welcome.w : undefined),
      sealer: new UploadSealer(nodePlatform, () => identity, undefined),
      crypto: nodePlatform,
      platform: defaultPlatform,
      meta: { roundId: s.roundId, modelVersion: s.modelVersion, numExamples: 4 },
      bytes: new Uint8Array(delta.buffer),
      deadline: Date.now() + 30_000,
      onChunk: (index) => {
        if (index === 5 && !cutDone) {
          cutDone = true;
          socket.io.engine.close();
        }
      },
    });
    const summary = await round;
    expect(summary.reporters).toEqual(['cut']);
    const begins = arrivals.filter((a) => a.event === UPLOAD_EVENTS.begin).map((a) => (a.args[0] as { uploadId: string }).uploadId);
    expect(begins.length).toBeGreaterThanOrEqual(2);
    expect(new Set(begins).size).toBe(begins.length);
    expect(c.store.get(1)!.weights[7]! - c.store.get(0)!.weights[7]!).toBeCloseTo(0.25, 6);
  });

  it('refuses to send an update whose seal key announcement does not verify, is signed by another key than the pinned one, or is missing', async () => {
    const { coordinator: c, url, arrivals } = await federation({ minClients: 1, rounds: 1, roundTimeoutMs: 10_000 });
    const p = new RawPeer(url, 'careful');
    cleanups.push(() => p.close());
    await p.connected();
    const start = p.nextStart();
    c.start();
    const s = await start;
    const identity = generateIdentityKeyPair(nodePlatform);
    const good = p.welcome!;
    const flipped = { ...good, sealKey: { ...good.sealKey!, signature: (good.sealKey!.signature[0] === '0' ? '1' : '0') + good.sealKey!.signature.slice(1) } };
    const { sealKey: _dropped, ...noSeal } = good;
    const attempt = (welcome: Welcome, pinned?: string) =>
      uploadUpdate({
        socket: p.socket,
        welcome: () => welcome,
        sealer: new UploadSealer(nodePlatform, () => identity, pinned),
        crypto: nodePlatform,
        platform: defaultPlatform,
        meta: { roundId: s.roundId, modelVersion: s.modelVersion, numExamples: 1 },
        bytes: new Uint8Array(4 * c.numParams),
        deadline: Date.now() + 5_000,
      });
    await expect(attempt(flipped)).rejects.toMatchObject({ code: 'SEAL_INVALID', details: { reason: 'announcement' } });
    await expect(attempt(good, toHex(generateIdentityKeyPair(nodePlatform).publicKey))).rejects.toMatchObject({ code: 'SEAL_INVALID', details: { reason: 'announcement' } });
    await expect(attempt(noSeal as Welcome)).rejects.toMatchObject({ code: 'SEAL_INVALID', details: { reason: 'no-seal-key' } });
    await expect(attempt({ ...noSeal, uploads: { chunkBytes: 262_144, sealRequired: false } } as Welcome, good.coordinatorKey)).rejects.toMatchObject({
      code: 'SEAL_INVALID',
      details: { reason: 'no-seal-key' },
    });
    expect(arrivals.filter((a) => a.clientId === 'careful')).toEqual([]);
  });
});

describe('secure aggregation on the wire (secagg.md 6, v1.md 5.4a)', () => {
  it('in a secure round: round:upload is BAD_MESSAGE, a message naming another client SENDER_MISMATCH, a short packed buffer BAD_MESSAGE, an unknown stage UNKNOWN_EVENT; the round still commits', async () => {
    await selectBackend('auto');
    const init = createPresetModel('mlp', { seed: 3 });
    const c = new Coordinator({
      model: await flatModelOf(init),
      settings: { auth: 'open', minClients: 3, rounds: 1, roundTimeoutMs: 60_000, secureAggregation: { enabled: true, clip: 1, weightCap: 1000, stageTimeoutMs: 3_000 } },
    });
    init.dispose();
    const url = await c.listen(0, '127.0.0.1');
    cleanups.push(() => c.close());
    const arrivals = recordArrivals(c);
    const data = await fashionSlices(3, 48);
    const clients = data.map((d, i) => new FlockClient({ url, clientId: `sa-${i}`, model: () => createPresetModel('mlp'), data: d, seed: i, crypto: nodePlatform }));
    cleanups.push(async () => {
      await Promise.all(clients.map((cl) => cl.stop()));
      for (const d of data) tf.dispose([d.x, d.y]);
    });
    await Promise.all(clients.map((cl) => cl.start()));
    const raw = new RawPeer(url, 'raw');
    cleanups.push(() => raw.close());
    await raw.connected();
    const start = raw.nextStart();
    const round = new Promise<RoundSummary>((resolve) => c.once('round', resolve));
    c.start();
    const s = await start;
    expect(s.secagg).toBeDefined();
    const upload = { roundId: s.roundId, uploadId: '0123456789abcdef', modelVersion: s.modelVersion, numExamples: 1, byteLength: 4 * c.numParams, chunkBytes: 65_536 };
    expect(await raw.emitAck(UPLOAD_EVENTS.begin, { ...upload, seal: new Uint8Array(128) })).toMatchObject({ ok: false, error: { code: 'BAD_MESSAGE' } });
    expect(await raw.emitAck(EVENTS.roundUpdate, { roundId: s.roundId, modelVersion: s.modelVersion, numExamples: 1 }, new Uint8Array(16))).toMatchObject({ ok: false, error: { code: 'BAD_MESSAGE' } });
    const engine = new SecAggClient({ session: s.secagg!.session, round: s.round, k: s.secagg!.k, t: s.secagg!.t, vectorLength: s.secagg!.vectorLength, clientId: 'raw', identity: generateIdentityKeyPair(nodePlatform), platform: nodePlatform });
    const wire = packAdvertise(await engine.advertiseKeys());
    expect(await raw.emitAck(SECAGG_EVENTS.advertiseKeys, { ...wire, clientId: 'sa-0' })).toMatchObject({ ok: false, error: { code: 'SECAGG_REJECTED', details: { reason: 'SENDER_MISMATCH' } } });
    expect(await raw.emitAck(SECAGG_EVENTS.advertiseKeys, { ...wire, keys: wire.keys.subarray(0, 191) })).toMatchObject({ ok: false, error: { code: 'BAD_MESSAGE' } });
    expect(await raw.emitAck('secagg:advertise-everything', wire)).toMatchObject({ ok: false, error: { code: 'UNKNOWN_EVENT' } });
    // Refusals change nothing: the raw peer stays silent and the three SDK clients finish the round.
    const summary = await round;
    expect(summary.reason).toBeUndefined();
    expect(summary.status).toBe('committed');
    expect(summary.reporters).toEqual(['sa-0', 'sa-1', 'sa-2']);
    // The SDK clients sent only the stage messages, each with an ack id.
    const sdkEvents = arrivals.filter((a) => a.clientId !== 'raw');
    expect(new Set(sdkEvents.map((a) => a.event))).toEqual(new Set([SECAGG_EVENTS.advertiseKeys, SECAGG_EVENTS.shareKeys, SECAGG_EVENTS.maskedInput, SECAGG_EVENTS.unmask]));
    expect(sdkEvents.every((a) => a.acked)).toBe(true);
  });
});
