import { describe, expect, it } from 'vitest';
import { generateIdentityKeyPair } from '../crypto/sign.js';
import { nodePlatform } from '../platform/node.js';
import { SecAggClient } from './client.js';
import { buildNeighbourGraph, graphSeed, sortIds } from './graph.js';
import type { RosterMessage } from './messages.js';
import { secAggParameters } from './params.js';
import { SecAggServer } from './server.js';

const platform = nodePlatform;
const SESSION = 'graph-safety';
const ROUND = 3;

/** Four clients whose external neighbourhood (in the round's graph) has exactly four members. */
function isolableGroup(ids: string[], k: number): { group: string[]; cut: string[] } | undefined {
  const sorted = sortIds(ids);
  const g = buildNeighbourGraph(sorted, k, graphSeed(SESSION, ROUND, sorted));
  const n = sorted.length;
  for (let a = 0; a < n; a++)
    for (let b = a + 1; b < n; b++)
      for (let c = b + 1; c < n; c++)
        for (let d = c + 1; d < n; d++) {
          const group = [sorted[a]!, sorted[b]!, sorted[c]!, sorted[d]!];
          const inGroup = new Set(group);
          const cut = new Set<string>();
          for (const u of group) for (const v of g.neighbours.get(u)!) if (!inGroup.has(v)) cut.add(v);
          if (cut.size === 4) return { group, cut: [...cut] };
        }
  return undefined;
}

describe('SecAgg+ parameters (Bell et al. 2020, Theorem 3.6)', () => {
  it('n = 1000 gets a logarithmic, even degree, not ~n/4', () => {
    const p = secAggParameters({ cohortSize: 1000 });
    expect(p.full).toBe(false);
    expect(p.k % 2).toBe(0);
    expect(p.k).toBeLessThanOrEqual(128);
    expect(p.t).toBeGreaterThan(p.k / 2);
    expect(p.derivation!.log2SecurityFailure).toBeLessThanOrEqual(-40);
    expect(p.derivation!.log2CorrectnessFailure).toBeLessThanOrEqual(-30);
  });
  it('every derived sparse degree is even and t a strict majority of it', () => {
    for (const n of [6, 7, 10, 20, 21, 33, 50, 99, 100, 255, 300, 1001]) {
      const p = secAggParameters({ cohortSize: n });
      if (!p.full) expect(p.k % 2, `n = ${n}`).toBe(0);
      expect(p.t, `n = ${n}`).toBeGreaterThan((p.full ? n - 1 : p.k) / 2);
    }
  });
  it('t is checked against the real degree: k = 3, t = 2 over 21 clients (degree 4) is refused', () => {
    expect(() => secAggParameters({ cohortSize: 21, k: 3, t: 2 })).toThrow(RangeError);
  });
  it('refuses bounds no threshold can meet, naming them', () => {
    expect(() => secAggParameters({ cohortSize: 100_000, corruptionRate: 0.05, dropoutRate: 0.2 })).toThrow(/dropoutRate/);
    expect(() => secAggParameters({ cohortSize: 10, dropoutRate: 0.7 })).toThrow(RangeError);
    expect(() => secAggParameters({ cohortSize: 10, corruptionRate: '0.1' as never })).toThrow(TypeError);
  });
});

describe('survivors split into isolated groups (issue 12 item 9)', () => {
  it('n = 20, k = 3, 4 dropouts after share-keys: the round is refused before unmasking, no group sum is revealed', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `c${String(i).padStart(2, '0')}`);
    const found = isolableGroup(ids, 3);
    expect(found).toBeDefined();
    const { group, cut } = found!;
    const params = { session: SESSION, round: ROUND, k: 3, t: 2, vectorLength: 8, platform };
    const server = new SecAggServer(params);
    const clients = new Map(ids.map((id) => [id, new SecAggClient({ ...params, clientId: id, identity: generateIdentityKeyPair(platform) })]));
    for (const c of clients.values()) await server.receiveAdvertise(await c.advertiseKeys());
    const roster = server.closeAdvertise();
    for (const c of clients.values()) server.receiveShareKeys(await c.shareKeys(roster));
    const deliveries = server.closeShareKeys();
    for (const d of deliveries) {
      if (cut.includes(d.clientId)) continue; // drops after share-keys
      server.receiveMaskedInput(await clients.get(d.clientId)!.maskedInput(d, new Uint32Array(8).fill(7)));
    }
    // The survivors' graph has a component of 4 (`group`): unmasking would let a curious
    // coordinator that kept their masked inputs read the exact sum of those 4 clients.
    expect(() => server.closeMaskedInput()).toThrow(expect.objectContaining({ code: 'SECAGG_SURVIVORS_SPLIT' }));
    await expect(server.finalize()).rejects.toMatchObject({ code: 'SECAGG_ABORTED' });
    // A client refuses such a request too (a malicious coordinator would send it anyway).
    const survivors = sortIds(ids.filter((id) => !cut.includes(id)));
    const request = { stage: 'unmask-request' as const, session: SESSION, round: ROUND, survivors, dropped: sortIds(cut) };
    await expect(clients.get(group[0]!)!.unmask(request)).rejects.toMatchObject({ code: 'SECAGG_MALICIOUS_REQUEST' });
  });
  it('a connected survivor set still unmasks (n = 20, derived k and t, 2 dropouts)', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `c${String(i).padStart(2, '0')}`);
    const { k, t } = secAggParameters({ cohortSize: 20 });
    const params = { session: SESSION, round: ROUND, k, t, vectorLength: 4, platform };
    const server = new SecAggServer(params);
    const clients = new Map(ids.map((id) => [id, new SecAggClient({ ...params, clientId: id, identity: generateIdentityKeyPair(platform) })]));
    for (const c of clients.values()) await server.receiveAdvertise(await c.advertiseKeys());
    const roster = server.closeAdvertise();
    for (const c of clients.values()) server.receiveShareKeys(await c.shareKeys(roster));
    const deliveries = server.closeShareKeys();
    for (const d of deliveries) if (d.clientId !== 'c03' && d.clientId !== 'c11') server.receiveMaskedInput(await clients.get(d.clientId)!.maskedInput(d, new Uint32Array(4).fill(5)));
    const request = server.closeMaskedInput();
    for (const id of request.survivors) server.receiveUnmask(await clients.get(id)!.unmask(request));
    expect([...(await server.finalize())]).toEqual([90, 90, 90, 90]);
  });
});

describe('client-side degree check (odd n and k give degree k + 1)', () => {
  it('a client refuses t = 2 when the real degree is 4 (n = 21, k = 3)', async () => {
    const ids = Array.from({ length: 21 }, (_, i) => `d${String(i).padStart(2, '0')}`);
    const params = { session: SESSION, round: ROUND, k: 3, t: 2, vectorLength: 4, platform };
    const clients = ids.map((id) => new SecAggClient({ ...params, clientId: id, identity: generateIdentityKeyPair(platform) }));
    const entries = [];
    for (const c of clients) entries.push(await c.advertiseKeys());
    entries.sort((a, b) => (a.clientId < b.clientId ? -1 : 1));
    const roster: RosterMessage = { stage: 'roster', session: SESSION, round: ROUND, entries };
    expect(buildNeighbourGraph(ids, 3, graphSeed(SESSION, ROUND, sortIds(ids))).degree).toBe(4);
    await expect(clients[0]!.shareKeys(roster)).rejects.toMatchObject({ code: 'SECAGG_WEAK_THRESHOLD' });
    // and the coordinator does not start such a round either
    const server = new SecAggServer(params);
    for (const e of entries) await server.receiveAdvertise(e);
    expect(() => server.closeAdvertise()).toThrow(expect.objectContaining({ code: 'SECAGG_WEAK_THRESHOLD' }));
  });
});
