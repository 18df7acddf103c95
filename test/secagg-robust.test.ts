/**
 * Robust SecAgg reconstruction over the wire (issue 12 item 10): six peers speak the SecAgg
 * protocol to a real coordinator on loopback; one of them reveals corrupted shares, first.
 * The round still commits (Reed-Solomon decoding corrects it) and the audit log names it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SECAGG_EVENTS, packAdvertise, packMaskedInput, packShares, packUnmask, unpackRoster, unpackShares, secAggUnmaskRequestSchema, type RoundStart } from '@flock/protocol';
import { Coordinator, FileAuditLog } from '@flock/coordinator';
import { createPresetModel, flatModelOf, selectBackend } from '@flock/model';
import { SecAggClient, generateIdentityKeyPair, type UnmaskRequestMessage, type UnmaskResponseMessage } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { nextRound, RawPeer } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A peer that runs the SecAgg client engine over its socket and stops before unmasking. */
function securePeer(url: string, clientId: string) {
  const peer = new RawPeer(url, clientId);
  let engine: SecAggClient | undefined;
  let resolveRequest: (r: UnmaskRequestMessage) => void = () => {};
  const request = new Promise<UnmaskRequestMessage>((r) => (resolveRequest = r));
  const identity = generateIdentityKeyPair(nodePlatform);
  const failures: unknown[] = [];
  const guard = (f: () => Promise<unknown>) => () => void f().catch((e) => failures.push(e));
  peer.socket.on('round:start', (s: RoundStart) =>
    guard(async () => {
      const c = s.secagg!;
      engine = new SecAggClient({ session: c.session, round: s.round, k: c.k, t: c.t, vectorLength: c.vectorLength, clientId, identity, platform: nodePlatform });
      await peer.emitAck(SECAGG_EVENTS.advertiseKeys, packAdvertise(await engine.advertiseKeys()));
    })(),
  );
  peer.socket.on(SECAGG_EVENTS.roster, (raw: unknown) => guard(async () => peer.emitAck(SECAGG_EVENTS.shareKeys, packShares(await engine!.shareKeys(unpackRoster(raw)))))());
  peer.socket.on(SECAGG_EVENTS.shareDelivery, (raw: unknown) =>
    guard(async () => {
      const x = new Uint32Array(engine!.vectorLength);
      x[x.length - 1] = 1; // a zero delta with weight 1 (the weight rides last, protocol/secagg.md 4.4)
      await peer.emitAck(SECAGG_EVENTS.maskedInput, packMaskedInput(await engine!.maskedInput(unpackShares('share-delivery', raw), x)));
    })(),
  );
  peer.socket.on(SECAGG_EVENTS.unmaskRequest, (raw: unknown) => resolveRequest(secAggUnmaskRequestSchema.parse(raw) as UnmaskRequestMessage));
  return {
    peer,
    failures,
    request,
    async unmask(tamper?: (r: UnmaskResponseMessage) => UnmaskResponseMessage) {
      const response = await engine!.unmask(await request);
      return peer.emitAck(SECAGG_EVENTS.unmask, packUnmask(tamper ? tamper(response) : response));
    },
  };
}

function corrupt(share: Uint8Array): Uint8Array {
  const s = share.slice();
  for (let i = 0; i < s.length - 1; i++) s[i] = s[i]! ^ 0xa5;
  return s;
}

describe('robust SecAgg reconstruction (issue 12 item 10)', () => {
  it('a peer revealing corrupted shares first does not abort the round, and the audit log names it', async () => {
    await selectBackend('auto');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'flock-secagg-robust-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const audit = new FileAuditLog(path.join(dir, 'audit.log'));
    cleanups.push(() => audit.close());
    const init = createPresetModel('logreg', { seed: 1 });
    // n = 6 with k = 5, t = 3: every secret has 5 shares, so one wrong share is correctable.
    const coordinator = new Coordinator({
      model: await flatModelOf(init),
      audit,
      settings: { auth: 'open', minClients: 6, rounds: 1, roundTimeoutMs: 60_000, secureAggregation: { enabled: true, k: 5, t: 3, clip: 1, weightCap: 10, stageTimeoutMs: 20_000 } },
    });
    init.dispose();
    const url = await coordinator.listen();
    cleanups.push(() => coordinator.close());
    const peers = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'].map((id) => securePeer(url, id));
    cleanups.push(() => peers.forEach((p) => p.peer.close()));
    await Promise.all(peers.map((p) => p.peer.connected()));
    const round = nextRound(coordinator);
    coordinator.start();
    await Promise.all(peers.map((p) => p.request));
    // p3 answers first, every revealed share altered (its x-coordinate kept).
    expect(
      await peers[3]!.unmask((r) => ({ ...r, selfSeedShares: r.selfSeedShares.map((s) => ({ owner: s.owner, share: corrupt(s.share) })) })),
    ).toEqual({ ok: true });
    for (const p of peers) if (p !== peers[3]) expect(await p.unmask()).toEqual({ ok: true });
    const summary = await round;
    expect(peers.flatMap((p) => p.failures)).toEqual([]);
    expect(summary.status).toBe('committed');
    expect(summary.reporters).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5']);
    const events = readFileSync(path.join(dir, 'audit.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.action === 'secagg.inconsistent-shares');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: 'client:p3', outcome: 'refused', kinds: ['self-seed'] });
    expect((events[0]!.owners as string[]).length).toBeGreaterThan(0);
  });
});
