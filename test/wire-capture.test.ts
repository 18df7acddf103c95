import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FlockClient } from '@flock/client';
import { createPresetModel } from '@flock/model';
import { encodeFloat32 } from '@flock/protocol';
import { SEAL_SUITE_AEAD, SEAL_SUITE_LEGACY } from '@flock/privacy';
import { fashionSlices, nextRound, RawPeer, startCoordinator, waitFor } from './helpers.js';
import { NetProxy } from './net-proxy.js';
import { sendUpdate } from './upload-helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Offsets of 64-byte windows of `bytes` worth searching for: no zero float, not all equal (so a hit cannot be chance). */
function windows(bytes: Uint8Array, count: number): number[] {
  const f = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const out: number[] = [];
  const stride = Math.max(16, Math.floor(f.length / (count * 2)) & ~15);
  for (let i = 0; i + 16 <= f.length && out.length < count; i += stride) {
    const w = f.subarray(i, i + 16);
    if (w.every((v) => v !== 0) && new Set(w).size >= 8) out.push(i * 4);
  }
  return out;
}

describe('sealed updates on the wire', () => {
  it('a TCP capture of a whole round holds no 64-byte window of any plaintext update, and the round commits their FedAvg', async () => {
    const { coordinator, url } = await startCoordinator({ minClients: 2, rounds: 1, roundTimeoutMs: 60_000, train: { epochs: 1, batchSize: 16, learningRate: 0.1 } });
    cleanups.push(() => coordinator.close());
    const proxy = NetProxy.forUrl(url);
    const proxied = await proxy.listen();
    cleanups.push(() => proxy.close());
    proxy.recording = true;
    const global = coordinator.store.latest().weights.slice();
    const data = await fashionSlices(2, 64);
    // Both clients talk to the coordinator only through the recording proxy (socket.io and HTTP downloads).
    const clients = data.map((d, i) => new FlockClient({ url: proxied, clientId: `cap-${i}`, model: () => createPresetModel('mlp'), data: d, seed: i }));
    cleanups.push(async () => {
      await Promise.all(clients.map((c) => c.stop()));
      for (const d of data) tf.dispose([d.x, d.y]);
    });
    const sent: Array<{ bytes: Uint8Array; delta: Float32Array; numExamples: number }> = [];
    for (const c of clients) c.on('update', (u) => sent.push({ bytes: encodeFloat32(u.delta).slice(), delta: u.delta.slice(), numExamples: u.numExamples }));
    await Promise.all(clients.map((c) => c.start()));
    const round = nextRound(coordinator);
    coordinator.start();
    const summary = await round;
    expect(summary.status).toBe('committed');
    expect(summary.reporters).toEqual(['cap-0', 'cap-1']);
    proxy.recording = false;
    const capture = proxy.capture();
    expect(sent).toHaveLength(2);
    // The update bytes went through the proxy (sealed): the capture is at least that large.
    expect(capture.length).toBeGreaterThan(sent[0]!.bytes.length * 2);

    // Control: the same search finds windows of the global weights the clients downloaded through the proxy.
    const globalBytes = encodeFloat32(global);
    const control = windows(globalBytes, 50);
    expect(control.length).toBeGreaterThan(20);
    for (const off of control) expect(capture.indexOf(globalBytes.subarray(off, off + 64))).toBeGreaterThanOrEqual(0);

    // No plaintext window of either update is anywhere in the capture.
    for (const u of sent) {
      const offs = windows(u.bytes, 400);
      expect(offs.length).toBeGreaterThan(100);
      for (const off of offs) expect(capture.indexOf(u.bytes.subarray(off, off + 64))).toBe(-1);
      // Nor windows across 256 KiB boundaries (chunk boundaries of the earlier default) when they are informative.
      const f = new Float32Array(u.bytes.buffer, u.bytes.byteOffset, u.bytes.byteLength / 4);
      for (let b = 256 * 1024; b < u.bytes.length; b += 256 * 1024) {
        const w = f.subarray((b - 32) / 4, (b + 32) / 4);
        if (w.every((v) => v !== 0) && new Set(w).size >= 8) expect(capture.indexOf(u.bytes.subarray(b - 32, b + 32))).toBe(-1);
      }
    }

    // The committed model is exactly the example-weighted FedAvg of the two plaintext updates.
    const total = sent.reduce((a, u) => a + u.numExamples, 0);
    const committed = coordinator.store.get(1)!.weights;
    let maxDiff = 0;
    for (let i = 0; i < global.length; i++) {
      let s = 0;
      for (const u of sent) s += u.numExamples * u.delta[i]!;
      maxDiff = Math.max(maxDiff, Math.abs(committed[i]! - (global[i]! + s / total)));
    }
    expect(maxDiff).toBeLessThanOrEqual(1e-6);
  });

  it.each([
    [SEAL_SUITE_AEAD, 'decrypt'],
    [SEAL_SUITE_LEGACY, 'context'],
  ] as const)('%s: a sealed upload replayed into another round, by another client id, or with a forged chunk fails with SEAL_INVALID', async (suite, replayReason) => {
    // 256 KiB chunks: the mlp update (~800 KB) is sent in several, so a chunk can be replayed on its own.
    const { coordinator, url } = await startCoordinator({ minClients: 2, rounds: 2, roundTimeoutMs: 10_000, uploads: { chunkBytes: 256 * 1024 } });
    cleanups.push(() => coordinator.close());
    const proxy = NetProxy.forUrl(url);
    const proxied = await proxy.listen();
    cleanups.push(() => proxy.close());
    const [a, b] = [new RawPeer(proxied, 'replay-a'), new RawPeer(url, 'replay-b')];
    cleanups.push(() => [a, b].forEach((p) => p.close()));
    await Promise.all([a, b].map((p) => p.connected()));
    // Record what a sends in round 1 on the coordinator side of its socket.
    const recorded: Array<{ event: string; args: unknown[] }> = [];
    for (const s of coordinator.io.sockets.sockets.values()) {
      if (s.data.clientId === 'replay-a') s.use(([event, ...args], next) => (recorded.push({ event, args: args.filter((x) => typeof x !== 'function') }), next()));
    }
    const starts = [a.nextStart(), b.nextStart()];
    let round = nextRound(coordinator);
    coordinator.start();
    const [s1] = await Promise.all(starts);
    const delta = new Float32Array(coordinator.numParams).fill(0.02);
    const meta = { roundId: s1!.roundId, modelVersion: s1!.modelVersion, numExamples: 8 };
    expect(await sendUpdate(a, meta, delta, { suites: [suite] })).toEqual({ ok: true });
    expect(await sendUpdate(b, meta, delta, { suites: [suite] })).toEqual({ ok: true });
    expect((await round).status).toBe('committed');
    const begin = recorded.find((r) => r.event === 'round:upload')!;
    // The suite the peer chose is the one named on the wire.
    expect((begin.args[0] as { sealSuite?: string }).sealSuite).toBe(suite);
    const chunks = recorded.filter((r) => r.event === 'round:chunk');
    expect(chunks.length).toBeGreaterThan(1);

    // Round 2: replay a's round-1 upload verbatim but under the new round id (same client, same session).
    round = nextRound(coordinator);
    await waitFor(() => a.starts.some((s) => s.round === 2) && b.starts.some((s) => s.round === 2), 10_000, 'round 2');
    const s2 = a.starts.find((s) => s.round === 2);
    const b0 = begin.args[0] as Record<string, unknown>;
    const replayBegin = { ...b0, roundId: s2!.roundId, modelVersion: s2!.modelVersion };
    expect(await a.emitAck('round:upload', replayBegin)).toEqual({ ok: true });
    const c0 = chunks[0]!.args as [Record<string, unknown>, Uint8Array];
    const replayed = await a.emitAck('round:chunk', { ...c0[0], roundId: s2!.roundId }, new Uint8Array(c0[1]));
    // Legacy: the box opens and the context hash inside differs; AES-256-GCM: the context is the AAD, so the tag fails.
    expect(replayed).toMatchObject({ ok: false, error: { code: 'SEAL_INVALID', details: { reason: replayReason } } });

    // Another client id replaying a's key record: the binding signature names replay-a.
    expect(await b.emitAck('round:upload', { ...replayBegin, uploadId: 'ab'.repeat(8) })).toMatchObject({ ok: false, error: { code: 'SEAL_INVALID', details: { reason: 'key-binding' } } });

    // A flipped ciphertext bit in an otherwise genuine upload: the box does not open.
    expect(await a.emitAck('round:upload', { ...b0, roundId: s2!.roundId, modelVersion: s2!.modelVersion, uploadId: 'cd'.repeat(8) })).toEqual({ ok: true });
    const forged = new Uint8Array(c0[1]);
    forged[100] = forged[100]! ^ 1;
    expect(await a.emitAck('round:chunk', { ...c0[0], roundId: s2!.roundId, uploadId: 'cd'.repeat(8) }, forged)).toMatchObject({ ok: false, error: { code: 'SEAL_INVALID', details: { reason: 'decrypt' } } });

    // The honest uploads of round 2 still count.
    const meta2 = { roundId: s2!.roundId, modelVersion: s2!.modelVersion, numExamples: 8 };
    expect(await sendUpdate(a, meta2, delta)).toEqual({ ok: true });
    expect(await sendUpdate(b, meta2, delta)).toEqual({ ok: true });
    const summary = await round;
    expect(summary.status).toBe('committed');
    expect(summary.reporters).toEqual(['replay-a', 'replay-b']);
  });
});
