import { afterEach, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { CHUNK_ENVELOPE_BYTES, EVENTS, PROTOCOL_VERSION, SEAL_OVERHEAD_BYTES, UPLOAD_EVENTS } from '@flock/protocol';
import { RawPeer, startCoordinator, waitFor } from './helpers.js';
import { sendUpdate } from './upload-helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function coordinator(settings = {}) {
  const c = await startCoordinator({ minClients: 2, rounds: 1, roundTimeoutMs: 5_000, ...settings });
  cleanups.push(() => c.coordinator.close());
  return c;
}

function peer(url: string, id: string, auth: Record<string, unknown> = {}): RawPeer {
  const p = new RawPeer(url, id, auth);
  cleanups.push(() => p.close());
  return p;
}

describe('malformed messages get typed errors, never a crash or silence', () => {
  it('answers bad payloads with BAD_MESSAGE naming the field, unknown events with UNKNOWN_EVENT', async () => {
    const { url, coordinator: c } = await coordinator();
    const p = peer(url, 'fuzzy');
    await p.connected();
    const cases: Array<[string, unknown[]]> = [
      [EVENTS.roundUpdate, [{}]],
      [EVENTS.roundUpdate, [{ roundId: 'x', modelVersion: -1, numExamples: 5 }, new Uint8Array(4)]],
      [EVENTS.roundUpdate, [{ roundId: 'x', modelVersion: 0, numExamples: 1.5 }, new Uint8Array(4)]],
      [EVENTS.roundUpdate, [{ roundId: 'x', modelVersion: 0, numExamples: 5 }, 'not binary']],
      [EVENTS.roundUpdate, [{ roundId: 'x', modelVersion: 0, numExamples: 5 }, new Uint8Array(4), new Uint8Array(4)]],
      [EVENTS.roundUpdate, [null]],
      [EVENTS.roundEvaluate, [{ roundId: 'x', modelVersion: 0, numExamples: 5, loss: 'NaN', accuracy: 2 }]],
      [EVENTS.roundDecline, [42]],
    ];
    for (const [event, args] of cases) {
      const ack = await p.emitAck(event, ...args);
      expect(ack.ok).toBe(false);
      if (!ack.ok) expect(ack.error.code).toBe('BAD_MESSAGE');
    }
    const numberIssue = await p.emitAck(EVENTS.roundUpdate, { roundId: 'x', modelVersion: -1, numExamples: 5 }, new Uint8Array(4));
    expect(!numberIssue.ok && numberIssue.error.message).toContain('modelVersion');
    const unknown = await p.emitAck('round:steal', { all: true });
    expect(unknown).toMatchObject({ ok: false, error: { code: 'UNKNOWN_EVENT' } });
    // No ack callback: the error arrives as a flock:error event instead of silence.
    p.socket.emit(EVENTS.roundUpdate, { nope: 1 });
    await waitFor(() => p.errors.length > 0, 5_000, 'flock:error');
    expect(p.errors[0]).toMatchObject({ code: 'BAD_MESSAGE' });
    // The connection and the coordinator are still fine.
    expect(p.socket.connected).toBe(true);
    expect(c.connectedClients).toContain('fuzzy');
  });

  it('refuses bad handshakes with a typed connect_error', async () => {
    const { url } = await coordinator();
    const refusal = (auth: unknown) =>
      new Promise<{ code: string }>((resolve) => {
        const s = io(url, { auth: auth as Record<string, unknown>, transports: ['websocket'], reconnection: false, forceNew: true });
        cleanups.push(() => void s.disconnect());
        s.on('connect_error', (e: Error & { data?: { code: string } }) => resolve(e.data ?? { code: 'none' }));
      });
    expect((await refusal({})).code).toBe('BAD_MESSAGE');
    expect((await refusal({ protocolVersion: PROTOCOL_VERSION, clientId: 'has spaces' })).code).toBe('BAD_MESSAGE');
    expect((await refusal({ protocolVersion: 999, clientId: 'future' })).code).toBe('PROTOCOL_VERSION_UNSUPPORTED');
    const first = peer(url, 'twin');
    await first.connected();
    expect((await refusal({ protocolVersion: PROTOCOL_VERSION, clientId: 'twin' })).code).toBe('CLIENT_ID_IN_USE');
    expect(first.socket.connected).toBe(true);
  });

  it('an oversized frame closes only that connection; the others finish the round', async () => {
    const { url, coordinator: c } = await coordinator({ minClients: 2, roundTimeoutMs: 3_000 });
    const [a, b, big] = [peer(url, 'a'), peer(url, 'b'), peer(url, 'big')];
    await Promise.all([a, b, big].map((p) => p.connected()));
    const starts = [a, b, big].map((p) => p.nextStart());
    const done = new Promise<{ status: string; reporters: string[] }>((resolve) => c.once('round', resolve));
    c.start();
    const [s] = await Promise.all(starts);
    const meta = { roundId: s!.roundId, modelVersion: s!.modelVersion, numExamples: 5 };
    const closed = new Promise<string>((resolve) => big.socket.once('disconnect', resolve));
    // The bound is one sealed chunk plus its envelope (not the whole model): a frame just above it is refused.
    const bound = c.settings.uploads.chunkBytes + SEAL_OVERHEAD_BYTES + CHUNK_ENVELOPE_BYTES;
    big.socket.emit(UPLOAD_EVENTS.chunk, { roundId: s!.roundId, uploadId: '00'.repeat(8), index: 0 }, new Uint8Array(bound + 1), () => {});
    expect(await closed).toBeTruthy();
    const update = new Float32Array(c.numParams).fill(0.01);
    expect(await sendUpdate(a, meta, update)).toEqual({ ok: true });
    expect(await sendUpdate(b, meta, update)).toEqual({ ok: true });
    const summary = await done;
    expect(summary.status).toBe('committed');
    expect(summary.reporters).toEqual(['a', 'b']);
  });
});
