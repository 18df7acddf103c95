/**
 * Sealing-suite negotiation over real socket.io (protocol/v1.md 5.4a, "Sealing suites"): the SDK's
 * upload code (UploadSealer + uploadUpdate) against coordinators that accept both suites, only the
 * AES-256-GCM one, or only the deprecated nacl.box one, and against an edited or stripped suite list.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SEAL_SUITE_AEAD, SEAL_SUITE_LEGACY, generateIdentityKeyPair, type SealSuite } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import type { Welcome } from '@flock/protocol';
import { nextRound, RawPeer, startCoordinator } from './helpers.js';
import { sendUpdate } from './upload-helpers.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function federation(sealSuites?: SealSuite[], minClients = 2) {
  const { coordinator, url } = await startCoordinator({ minClients, rounds: 1, roundTimeoutMs: 20_000, ...(sealSuites ? { uploads: { sealSuites } } : {}) });
  cleanups.push(() => coordinator.close());
  const peers = Array.from({ length: minClients }, (_, i) => new RawPeer(url, `suite-${i}`));
  cleanups.push(() => peers.forEach((p) => p.close()));
  await Promise.all(peers.map((p) => p.connected()));
  // Every round:upload, as the coordinator receives it.
  const begins: Array<{ clientId: string; sealSuite?: string }> = [];
  for (const s of coordinator.io.sockets.sockets.values()) {
    s.use(([event, ...args], next) => {
      if (event === 'round:upload') begins.push({ clientId: String(s.data.clientId), sealSuite: (args[0] as { sealSuite?: string }).sealSuite });
      next();
    });
  }
  const starts = peers.map((p) => p.nextStart());
  const round = nextRound(coordinator);
  coordinator.start();
  const [start] = await Promise.all(starts);
  const meta = { roundId: start!.roundId, modelVersion: start!.modelVersion, numExamples: 4 };
  const delta = new Float32Array(coordinator.numParams).fill(0.01);
  return { coordinator, peers, meta, delta, round, begins };
}

describe('sealing suites on the wire', () => {
  it('a current coordinator announces both suites, signed; the SDK seals with AES-256-GCM, a legacy-only client with nacl.box, and both count', async () => {
    const { peers, meta, delta, round, begins } = await federation();
    expect(peers[0]!.welcome!.sealKey!.suites).toEqual([SEAL_SUITE_AEAD, SEAL_SUITE_LEGACY]);
    expect(peers[0]!.welcome!.sealKey!.suitesSignature).toMatch(/^[0-9a-f]{128}$/);
    expect(await sendUpdate(peers[0]!, meta, delta)).toEqual({ ok: true });
    expect(await sendUpdate(peers[1]!, meta, delta, { suites: [SEAL_SUITE_LEGACY] })).toEqual({ ok: true });
    const summary = await round;
    expect(summary.status).toBe('committed');
    expect(summary.reporters.sort()).toEqual(['suite-0', 'suite-1']);
    expect(begins).toEqual([
      { clientId: 'suite-0', sealSuite: SEAL_SUITE_AEAD },
      { clientId: 'suite-1', sealSuite: SEAL_SUITE_LEGACY },
    ]);
  });

  it('an old-suite-only coordinator: the SDK falls back to nacl.box; an AES-only client finds no common suite (SEAL_INVALID, unsupported-suite) and sends nothing', async () => {
    const { peers, meta, delta, begins } = await federation([SEAL_SUITE_LEGACY]);
    expect(await sendUpdate(peers[0]!, meta, delta)).toEqual({ ok: true });
    expect(await sendUpdate(peers[1]!, meta, delta, { suites: [SEAL_SUITE_AEAD] })).toMatchObject({ ok: false, error: { code: 'SEAL_INVALID', details: { reason: 'unsupported-suite' } } });
    expect(begins).toEqual([{ clientId: 'suite-0', sealSuite: SEAL_SUITE_LEGACY }]);
  });

  it('a coordinator that refuses the legacy suite answers a nacl.box upload with SEAL_INVALID, unsupported-suite; the AES-256-GCM upload counts', async () => {
    const { peers, meta, delta, round } = await federation([SEAL_SUITE_AEAD]);
    expect(peers[0]!.welcome!.sealKey!.suites).toEqual([SEAL_SUITE_AEAD]);
    // A client from before suites existed: it ignores the list and names no suite.
    const old = peers[1]!;
    const genuine = old.welcome!;
    old.welcome = { ...old.welcome!, sealKey: { publicKey: old.welcome!.sealKey!.publicKey, signature: old.welcome!.sealKey!.signature } };
    const refused = await sendUpdate(old, meta, delta);
    expect(refused).toMatchObject({ ok: false, error: { code: 'SEAL_INVALID', details: { reason: 'unsupported-suite', suite: SEAL_SUITE_LEGACY, accepted: [SEAL_SUITE_AEAD] } } });
    expect(await sendUpdate(peers[0]!, meta, delta)).toEqual({ ok: true });
    // The same session, updated: it reads the suite list and counts once.
    old.welcome = genuine;
    expect(await sendUpdate(old, meta, delta)).toEqual({ ok: true });
    expect((await round).status).toBe('committed');
  });

  it('downgrade: a suite list edited on the way (AES removed, reordered, or unsigned) is refused before anything is sent', async () => {
    const { peers, meta, delta, begins } = await federation();
    const genuine = peers[0]!.welcome!;
    const edits: Array<Welcome['sealKey']> = [
      { ...genuine.sealKey!, suites: [SEAL_SUITE_LEGACY] },
      { ...genuine.sealKey!, suites: [SEAL_SUITE_LEGACY, SEAL_SUITE_AEAD] },
      { publicKey: genuine.sealKey!.publicKey, signature: genuine.sealKey!.signature, suites: [SEAL_SUITE_LEGACY] },
      { ...genuine.sealKey!, suitesSignature: genuine.sealKey!.signature },
    ];
    for (const sealKey of edits) {
      const peer = peers[0]!;
      peer.welcome = { ...genuine, sealKey };
      // A fresh sealer per edit (the SDK keeps one per session; a new welcome is checked again).
      const verdict = await sendUpdate(peer, meta, delta, { identity: generateIdentityKeyPair(nodePlatform) });
      expect(verdict).toMatchObject({ ok: false, error: { code: 'SEAL_INVALID', details: { reason: 'announcement' } } });
    }
    expect(begins).toEqual([]);
    // The genuine list still works.
    peers[0]!.welcome = genuine;
    expect(await sendUpdate(peers[0]!, meta, delta)).toEqual({ ok: true });
    expect(begins).toEqual([{ clientId: 'suite-0', sealSuite: SEAL_SUITE_AEAD }]);
  });
});
