import { afterEach, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import { Coordinator } from '@flock/coordinator';
import { EVENTS, type ModelSpec, type RoundStart } from '@flock/protocol';
import { RawPeer, waitFor } from './helpers.js';
import { sendUpdate } from './upload-helpers.js';

// The dashboard's operator namespace over real sockets: only the operator token gets in, and
// the pushed progress follows a hand-driven round as it collects.

const TOKEN = 'operator-token-for-the-feed-test';
const m = 16;
const spec: ModelSpec = { format: 'flock-weights/v1', weights: [{ name: 'w', shape: [m], dtype: 'float32' }] };
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function operator(url: string, token: unknown): Socket {
  const s = io(`${url}/operator`, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  cleanups.push(() => void s.close());
  return s;
}

describe('dashboard operator namespace', () => {
  it('refuses a missing or wrong token, then pushes a snapshot and live progress to the operator', async () => {
    const c = new Coordinator({ model: { topology: {}, spec, weights: new Float32Array(m) }, operatorToken: TOKEN, settings: { auth: 'open', minClients: 2, rounds: 1, roundTimeoutMs: 20_000 } });
    const url = await c.listen();
    cleanups.push(() => c.close());
    for (const bad of [undefined, 'wrong-token', 42]) {
      const s = operator(url, bad);
      const heard: string[] = [];
      s.onAny((e: string) => heard.push(e));
      const err = await new Promise<{ data?: { code?: string } }>((resolve) => s.once('connect_error', resolve));
      expect(err.data?.code).toBe('UNAUTHORIZED');
      expect(heard).toEqual([]);
    }
    const s = operator(url, TOKEN);
    const progress: Array<{ activeRound: { selected: number; reported: number; stage: string; dropped: number } | null }> = [];
    s.on('progress', (p: (typeof progress)[number]) => progress.push(p));
    const snapshot = await new Promise<{ serving: { serving: number }; versions: unknown[] }>((resolve) => s.once('snapshot', resolve));
    expect(snapshot.serving.serving).toBe(0);
    expect(snapshot.versions).toHaveLength(1);

    const peers = [new RawPeer(url, 'p-0'), new RawPeer(url, 'p-1')];
    cleanups.push(() => peers.forEach((p) => p.close()));
    const starts: Array<[RawPeer, RoundStart]> = [];
    for (const p of peers) p.socket.on(EVENTS.roundStart, (st: RoundStart) => starts.push([p, st]));
    await Promise.all(peers.map((p) => p.connected()));
    const rounds: unknown[] = [];
    s.on('round', (r: unknown) => rounds.push(r));
    c.start();
    await waitFor(() => progress.some((p) => p.activeRound?.selected === 2 && p.activeRound.reported === 0), 20_000, 'progress 0/2');
    expect(progress.find((p) => p.activeRound)!.activeRound).toMatchObject({ stage: 'collecting', dropped: 0 });
    await waitFor(() => starts.length === 2, 20_000, 'round:start');
    const [p0, s0] = starts[0]!;
    expect((await sendUpdate(p0, { roundId: s0.roundId, modelVersion: s0.modelVersion, numExamples: 5, metrics: {} }, new Float32Array(m).fill(0.1))).ok).toBe(true);
    await waitFor(() => progress.some((p) => p.activeRound?.reported === 1), 20_000, 'progress 1/2');
    const [p1, s1] = starts[1]!;
    await sendUpdate(p1, { roundId: s1.roundId, modelVersion: s1.modelVersion, numExamples: 5, metrics: {} }, new Float32Array(m).fill(0.1));
    await waitFor(() => rounds.length === 1, 20_000, 'round pushed');
  });
});
