/**
 * Black-box checks of protocol/v1.md MUSTs on the wire (protocol/v1.md 15): a real
 * coordinator on loopback, driven over socket.io by hand-written peers and, where the frames
 * themselves are the point, by a raw WebSocket speaking engine.io / socket.io text packets.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { io } from 'socket.io-client';
import { AUTH_CHALLENGE_PATH, EVENTS, PROTOCOL_VERSION, UPLOAD_EVENTS, authSignedMessage, welcomeSchema, type RoundStart, type UpdateMeta } from '@flock/protocol';
import { clientSealKeyRecord, generateIdentityKeyPair, signDetached, toHex, verifyCoordinatorSealKey } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { nextRound, RawPeer, startCoordinator, waitFor } from './helpers.js';
import { sendUpdate } from './upload-helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function coordinator(settings: Parameters<typeof startCoordinator>[0] = {}) {
  const c = await startCoordinator({ minClients: 2, rounds: 1, roundTimeoutMs: 10_000, ...settings });
  cleanups.push(() => c.coordinator.close());
  return c;
}

function peer(url: string, id: string, auth: Record<string, unknown> = {}): RawPeer {
  const p = new RawPeer(url, id, auth);
  cleanups.push(() => p.close());
  return p;
}

/** A raw engine.io WebSocket: every text frame it receives, and whether it closed. */
async function rawSocket(url: string): Promise<{ ws: WebSocket; frames: string[]; closed: Promise<number> }> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
  cleanups.push(() => ws.terminate());
  const frames: string[] = [];
  ws.on('message', (data, isBinary) => {
    if (!isBinary) {
      const text = data.toString();
      if (text === '2') ws.send('3'); // engine.io ping -> pong
      frames.push(text);
    }
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await waitFor(() => frames.some((f) => f.startsWith('0{')), 10_000, 'engine.io open packet');
  return { ws, frames, closed };
}

describe('handshake on the wire (v1.md 3)', () => {
  it('a CONNECT whose payload is not a JSON object closes the connection without a CONNECT_ERROR; an empty one is BAD_MESSAGE', async () => {
    const { url } = await coordinator({ minClients: 5 });
    for (const payload of ['"a string"', '[1,2]', 'null', '{"protocolVersion":1,']) {
      const { ws, frames, closed } = await rawSocket(url);
      ws.send(`40${payload}`);
      await closed;
      expect(frames.filter((f) => f.startsWith('44')), payload).toEqual([]);
    }
    const { ws, frames } = await rawSocket(url);
    ws.send('40');
    await waitFor(() => frames.some((f) => f.startsWith('44')), 10_000, 'connect_error');
    const refusal = JSON.parse(frames.find((f) => f.startsWith('44'))!.slice(2));
    expect(refusal.data).toMatchObject({ code: 'BAD_MESSAGE' });
  });

  it('a publicKey or signature that is not lowercase hex of its length is a schema error (BAD_MESSAGE) in both modes, not a failed credential', async () => {
    const id = generateIdentityKeyPair(nodePlatform);
    const pk = toHex(id.publicKey);
    const sig = toHex(await signDetached(nodePlatform, id.secretKey, new Uint8Array(1)));
    for (const auth of ['tokens', 'open'] as const) {
      const { url } = await coordinator({ auth });
      for (const [field, patch] of [
        ['publicKey', { publicKey: pk.toUpperCase(), nonce: 'n'.repeat(32), signature: sig }],
        ['signature', { publicKey: pk, nonce: 'n'.repeat(32), signature: sig.slice(2) }],
      ] as const) {
        const data = await new Promise<{ code?: string; details?: { issues?: Array<{ path: string }> } }>((resolve) => {
          const s = io(url, { auth: { protocolVersion: PROTOCOL_VERSION, clientId: 'hexcase', ...patch }, transports: ['websocket'], reconnection: false, forceNew: true });
          cleanups.push(() => void s.disconnect());
          s.on('connect', () => resolve({}));
          s.on('connect_error', (e: Error & { data?: never }) => resolve(e.data ?? {}));
        });
        expect(data.code, `${auth} ${field}`).toBe('BAD_MESSAGE');
        expect(data.details?.issues?.map((i) => i.path)).toContain(field);
      }
    }
  });

  it('a nonce is burnt by a failed attempt too: a good signature over it is then CHALLENGE_INVALID', async () => {
    const { coordinator: c, url } = await coordinator({ auth: 'tokens' });
    const { token } = c.auth.mintToken({ label: 'burn' });
    const key = generateIdentityKeyPair(nodePlatform);
    const other = generateIdentityKeyPair(nodePlatform);
    const ch = (await (await fetch(`${url}${AUTH_CHALLENGE_PATH}`, { method: 'POST' })).json()) as { nonce: string; federationId: string };
    const message = authSignedMessage(ch.federationId, 'burner', ch.nonce);
    const attempt = async (signer: typeof key) =>
      new Promise<string>((resolve) => {
        const auth = { protocolVersion: PROTOCOL_VERSION, clientId: 'burner', publicKey: toHex(key.publicKey), nonce: ch.nonce, token };
        void signDetached(nodePlatform, signer.secretKey, message).then((sig) => {
          const s = io(url, { auth: { ...auth, signature: toHex(sig) }, transports: ['websocket'], reconnection: false, forceNew: true });
          cleanups.push(() => void s.disconnect());
          s.on(EVENTS.welcome, () => resolve('welcome'));
          s.on('connect_error', (e: Error & { data?: { code: string } }) => resolve(e.data?.code ?? 'transport'));
        });
      });
    expect(await attempt(other)).toBe('UNAUTHORIZED');
    expect(await attempt(key)).toBe('CHALLENGE_INVALID');
    expect(c.connectedClients).toEqual([]);
  });

  it('the welcome carries every field of 5.2, its seal key verifies under coordinatorKey, and coordinator-to-client events request no ack', async () => {
    const { coordinator: c, url } = await coordinator({ minClients: 1, uploads: { chunkBytes: 4096, sealRequired: true } });
    c.start();
    const { ws, frames } = await rawSocket(url);
    ws.send(`40${JSON.stringify({ protocolVersion: PROTOCOL_VERSION, clientId: 'raw-ws', future: 'unknown fields are ignored' })}`);
    await waitFor(() => frames.some((f) => f.startsWith('42["federation:welcome"')), 10_000, 'welcome');
    const welcome = welcomeSchema.parse(JSON.parse(frames.find((f) => f.startsWith('42["federation:welcome"'))!.slice(2))[1]);
    for (const f of ['coordinatorKey', 'sealKey', 'uploads', 'accessToken'] as const) expect(welcome[f], f).toBeDefined();
    expect(welcome.uploads).toEqual({ chunkBytes: 4096, sealRequired: true });
    expect(await verifyCoordinatorSealKey(nodePlatform, welcome.coordinatorKey!, welcome.federationId, welcome.sealKey!)).toBeDefined();
    // The lone client is selected: round:start arrives, like the welcome, as a plain EVENT with no ack id.
    await waitFor(() => frames.some((f) => f.startsWith('42["round:start"')), 10_000, 'round:start');
    const events = frames.filter((f) => /^4[25]/.test(f));
    expect(events.length).toBeGreaterThanOrEqual(2);
    for (const f of events) expect(f, f.slice(0, 40)).toMatch(/^42\[/);
  });
});

describe('events and uploads on the wire (v1.md 5, 8)', () => {
  it('a default coordinator refuses round:update with UPLOAD_REJECTED (unsealed) after the round checks; the client is not settled and its sealed upload then counts', async () => {
    const { coordinator: c, url } = await coordinator({ minClients: 2 });
    const [a, b] = [peer(url, 'a'), peer(url, 'b')];
    await Promise.all([a.connected(), b.connected()]);
    const starts = [a.nextStart(), b.nextStart()];
    const round = nextRound(c);
    c.start();
    const s = await starts[0]!;
    await starts[1];
    const meta: UpdateMeta = { roundId: s.roundId, modelVersion: s.modelVersion, numExamples: 10 };
    const delta = new Float32Array(c.numParams).fill(0.125);
    // A model-sized round:update is larger than a default coordinator's frame bound (2.3) and
    // would close the connection before any check: a short payload shows the check order.
    const bytes = new Uint8Array(16);
    expect(await a.emitAck(EVENTS.roundUpdate, { ...meta, roundId: '0-gone' }, bytes)).toMatchObject({ ok: false, error: { code: 'ROUND_NOT_ACTIVE' } });
    expect(await a.emitAck(EVENTS.roundUpdate, meta, bytes)).toMatchObject({ ok: false, error: { code: 'UPLOAD_REJECTED', details: { reason: 'unsealed' } } });
    // round:upload and round:chunk are protocol events, never UNKNOWN_EVENT.
    expect(await a.emitAck(UPLOAD_EVENTS.chunk, { roundId: s.roundId, uploadId: 'ab'.repeat(8), index: 0 }, new Uint8Array(8))).toMatchObject({
      ok: false,
      error: { code: 'UPLOAD_REJECTED', details: { reason: 'no-upload' } },
    });
    expect(await a.emitAck(UPLOAD_EVENTS.begin, { ...meta, uploadId: 'cd'.repeat(8), byteLength: 4 * c.numParams, chunkBytes: 1024 })).toMatchObject({
      ok: false,
      error: { code: 'UPLOAD_REJECTED', details: { reason: 'unsealed' } },
    });
    expect(await sendUpdate(a, meta, delta)).toEqual({ ok: true });
    expect(await sendUpdate(b, meta, delta)).toEqual({ ok: true });
    const summary = await round;
    expect(summary.status).toBe('committed');
    expect(summary.reporters).toEqual(['a', 'b']);
    expect(summary.rejected).toEqual([]);
  });

  it('secagg events outside a secure round are ROUND_NOT_ACTIVE, whatever their name; other unknown names UNKNOWN_EVENT', async () => {
    const { url } = await coordinator({ minClients: 5 });
    const p = peer(url, 'stray');
    await p.connected();
    expect(await p.emitAck('secagg:advertise-keys', { stage: 'advertise-keys' })).toMatchObject({ ok: false, error: { code: 'ROUND_NOT_ACTIVE' } });
    expect(await p.emitAck('secagg:no-such-stage', {})).toMatchObject({ ok: false, error: { code: 'ROUND_NOT_ACTIVE' } });
    expect(await p.emitAck('round:upgrade', {})).toMatchObject({ ok: false, error: { code: 'UNKNOWN_EVENT' } });
    expect(p.socket.connected).toBe(true);
  });

  it('the key record: 127 bytes is a schema error, a low-order box key is SEAL_INVALID key-binding, unknown fields are ignored', async () => {
    const { coordinator: c, url } = await coordinator({ minClients: 1 });
    const p = peer(url, 'sealer');
    await p.connected();
    const start = p.nextStart();
    const round = nextRound(c);
    c.start();
    const s = await start;
    const identity = generateIdentityKeyPair(nodePlatform);
    const begin = { roundId: s.roundId, uploadId: '0123456789abcdef', modelVersion: s.modelVersion, numExamples: 3, byteLength: 4 * c.numParams, chunkBytes: 65536 };
    const good = await clientSealKeyRecord(nodePlatform, identity, { publicKey: new Uint8Array(32).fill(9), secretKey: new Uint8Array(32) }, p.welcome!.federationId, 'sealer');
    const short = await p.emitAck(UPLOAD_EVENTS.begin, { ...begin, seal: good.subarray(0, 127) });
    expect(short).toMatchObject({ ok: false, error: { code: 'BAD_MESSAGE' } });
    expect(!short.ok && short.error.details?.issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'seal' })]));
    // X25519 with the all-zero point gives all zeros: a signed record cannot make it usable.
    const lowOrder = await clientSealKeyRecord(nodePlatform, identity, { publicKey: new Uint8Array(32), secretKey: new Uint8Array(32) }, p.welcome!.federationId, 'sealer');
    expect(await p.emitAck(UPLOAD_EVENTS.begin, { ...begin, seal: lowOrder })).toMatchObject({ ok: false, error: { code: 'SEAL_INVALID', details: { reason: 'key-binding' } } });
    // Neither refusal settled the client: a proper upload, with a field v1 does not know, counts.
    const delta = new Float32Array(c.numParams).fill(-0.5);
    expect(await sendUpdate(p, { roundId: s.roundId, modelVersion: s.modelVersion, numExamples: 3, future: 'ignored' } as UpdateMeta, delta)).toEqual({ ok: true });
    const summary = await round;
    expect(summary.reporters).toEqual(['sealer']);
    expect(c.store.get(1)!.weights[0]! - c.store.get(0)!.weights[0]!).toBeCloseTo(-0.5, 6);
  });

  it('a cohort member that reconnects mid-round gets round:start again: same round and deadline, timeoutMs the time left', async () => {
    const { coordinator: c, url } = await coordinator({ minClients: 2, roundTimeoutMs: 20_000 });
    const a = peer(url, 'again');
    const b = peer(url, 'other');
    await Promise.all([a.connected(), b.connected()]);
    const first = a.nextStart();
    c.start();
    const s1 = await first;
    expect(s1.timeoutMs).toBe(20_000);
    a.close();
    await waitFor(() => !c.connectedClients.includes('again'), 10_000, 'the coordinator to see the disconnect');
    await new Promise((r) => setTimeout(r, 1_100));
    const back = peer(url, 'again');
    const resent = new Promise<RoundStart>((resolve) => back.socket.once(EVENTS.roundStart, resolve));
    await back.connected();
    const s2 = await resent;
    const received = Date.now();
    expect(s2.roundId).toBe(s1.roundId);
    expect(s2.deadline).toBe(s1.deadline);
    expect({ ...s2, timeoutMs: 0 }).toEqual({ ...s1, timeoutMs: 0 });
    expect(s2.timeoutMs).toBeLessThanOrEqual(20_000 - 1_000);
    expect(s2.timeoutMs).toBeGreaterThanOrEqual(s1.deadline - received - 1_000);
    // A settled member is not sent anything again.
    expect(await sendUpdate(back, { roundId: s2.roundId, modelVersion: s2.modelVersion, numExamples: 1 }, new Float32Array(c.numParams))).toEqual({ ok: true });
    back.close();
    await waitFor(() => !c.connectedClients.includes('again'), 10_000, 'the second disconnect');
    const third = peer(url, 'again');
    let restarted = false;
    third.socket.on(EVENTS.roundStart, () => (restarted = true));
    await third.connected();
    await new Promise((r) => setTimeout(r, 300));
    expect(restarted).toBe(false);
  });

  it('an evaluation report for another model version is MODEL_VERSION_MISMATCH and settles the client', async () => {
    const { coordinator: c, url } = await coordinator({ minClients: 2, evaluateEvery: 1, roundTimeoutMs: 8_000 });
    const [a, b] = [peer(url, 'ev-a'), peer(url, 'ev-b')];
    await Promise.all([a.connected(), b.connected()]);
    let starts = [a.nextStart(), b.nextStart()];
    c.start();
    const train = await starts[0]!;
    await starts[1];
    starts = [a.nextStart(), b.nextStart()];
    const evaluation = new Promise<import('@flock/coordinator').RoundSummary>((resolve) => c.on('round', (r) => r.kind === 'evaluate' && resolve(r)));
    const meta = { roundId: train.roundId, modelVersion: train.modelVersion, numExamples: 5 };
    expect(await sendUpdate(a, meta, new Float32Array(c.numParams))).toEqual({ ok: true });
    expect(await sendUpdate(b, meta, new Float32Array(c.numParams))).toEqual({ ok: true });
    const ev = await starts[0]!;
    await starts[1];
    expect(ev.kind).toBe('evaluate');
    const report = { roundId: ev.roundId, modelVersion: ev.modelVersion, numExamples: 50, loss: 0.5, accuracy: 0.75 };
    expect(await a.emitAck(EVENTS.roundEvaluate, { ...report, modelVersion: ev.modelVersion + 1 })).toMatchObject({ ok: false, error: { code: 'MODEL_VERSION_MISMATCH' } });
    expect(await a.emitAck(EVENTS.roundEvaluate, report)).toMatchObject({ ok: false, error: { code: 'DUPLICATE_UPDATE' } });
    expect(await b.emitAck(EVENTS.roundEvaluate, report)).toEqual({ ok: true });
    const summary = await evaluation;
    expect(summary.rejected).toEqual([{ clientId: 'ev-a', code: 'MODEL_VERSION_MISMATCH' }]);
    expect(summary.reporters).toEqual(['ev-b']);
  });
});
