import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { FlockClient } from '@flock/client';
import { createPresetModel, selectBackend } from '@flock/model';
import { mintToken, openPostgresStore } from '@flock/coordinator';
import { flock } from './flock-process.js';
import { fleetBinaries, until } from './fleet-redis.js';
import { clientsOf, getJson, leaderOf, type Cluster, killFollowerAtRoundStart } from './fleet-cluster.js';
import { pgHistory, startPgCluster, pgClusterTestHooks } from './fleet-pg-cluster.js';
import { fashionSlices } from './helpers.js';

const { cleanups, track } = pgClusterTestHooks();
const PG = process.env.FLOCK_TEST_POSTGRES_URL;
const skip = !PG ? 'FLOCK_TEST_POSTGRES_URL is not set' : !fleetBinaries({ nginx: true }) ? 'redis-server or nginx missing' : undefined;
if (!PG && process.env.FLOCK_REQUIRE_POSTGRES === '1') throw new Error('FLOCK_REQUIRE_POSTGRES=1 but FLOCK_TEST_POSTGRES_URL is not set');

// Real processes: PostgreSQL (a fresh schema), redis-server, three `flock coordinator --redis
// --postgres` nodes sharing it, Debian's nginx in front, SDK clients with enrollment tokens.
describe.skipIf(skip !== undefined)(`a fleet on one PostgreSQL database${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('tokens minted once authenticate on every node; a follower killed mid-round: its clients re-authenticate on the others; versions committed once, consecutive, served by every node from PostgreSQL', async () => {
    const cluster = track(await startPgCluster(3, PG!, ['--min-clients', '6', '--rounds', '2', '--timeout', '30', '--lease', '2'], cleanups, { nginx: true }));
    // Six enrollment tokens, minted once into the shared registry: one with `flock token create
    // --postgres` as an operator does, five through the store (the same registry, fewer processes).
    const p = flock(['token', 'create', '--postgres', cluster.pgUrl, '--label', 'c0', '--json', '--data-dir', `${cluster.dir}/tokens`]);
    expect(await p.exited()).toBe(0);
    const minted = [String(p.lines[0]!.token)];
    const store = await openPostgresStore({ url: cluster.pgUrl });
    try {
      for (let i = 1; i < 6; i++) minted.push((await mintToken(store.registry, { label: `c${i}` })).token);
    } finally {
      await store.close();
    }
    await selectBackend('cpu');
    const slices = await fashionSlices(6, 32);
    cleanups.push(() => tf.dispose(slices.flatMap((s) => [s.x, s.y])));
    const clients = slices.map((data, i) => new FlockClient({ url: cluster.nginx!.url, clientId: `c${i}`, token: minted[i]!, model: () => createPresetModel('mlp', { seed: 1 }), data }));
    cleanups.push(() => Promise.all(clients.map((c) => c.stop())).then(() => undefined));

    const kill = killFollowerAtRoundStart(cluster, clients, (r) => r >= 2);
    await Promise.all(clients.map((c) => c.start()));
    const leader = await until(() => leaderOf(cluster as unknown as Cluster) !== undefined, 60_000, 'a leader').then(() => leaderOf(cluster as unknown as Cluster)!);
    await leader.proc.waitFor((l) => l.event === 'done', 150_000);
    expect(kill.victim).toBeDefined();
    expect(kill.victimClients.length).toBeGreaterThan(0);

    // Every node admitted clients with tokens from the shared registry: nginx spread them, and
    // round 1 counted all six (followers shipped partials of their token-authenticated clients).
    const { rounds } = await getJson<{ rounds: Array<{ round: number; status: string; modelVersion: number; reporters: string[]; reason?: { code: string } }> }>(`${leader.url}/v1/rounds`);
    expect(rounds.find((r) => r.round === 1)).toMatchObject({ status: 'committed', modelVersion: 1 });
    expect(rounds.find((r) => r.round === 1)!.reporters).toHaveLength(6);
    const shipped = cluster.nodes.filter((n) => n !== leader).flatMap((n) => n.proc.lines.filter((l) => l.event === 'fleet' && l.type === 'partial-shipped' && Number(l.reporters) > 0));
    expect(shipped.length).toBeGreaterThan(0);
    // The killed follower's clients came back through nginx to the other nodes, authenticated
    // there by the identities they enrolled on the dead node, and the last round counted all six.
    const survivors = cluster.nodes.filter((n) => n !== kill.victim);
    for (const id of kill.victimClients) expect(survivors.some((n) => clientsOf(n).has(id))).toBe(true);
    const last = rounds.filter((r) => r.status === 'committed').at(-1)!;
    expect([...last.reporters].sort()).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
    for (const r of rounds.filter((x) => x.status === 'abandoned')) expect(['TOO_FEW_REPORTS', 'ROUND_ABANDONED']).toContain(r.reason?.code);
    const refused = survivors.flatMap((n) => n.proc.stderr.filter((l) => /UNAUTHORIZED|TOKEN_|IDENTITY_/.test(l)));
    expect(refused).toEqual([]);

    // PostgreSQL holds the one history: versions 0, 1, 2, each committed by exactly one round.
    const h = await pgHistory(cluster.db);
    expect(h.versions).toEqual([0, 1, 2]);
    expect(h.rounds.filter((r) => r.status === 'committed').map((r) => r.committed_version)).toEqual([1, 2]);
    expect(h.rounds.filter((r) => r.status === 'running')).toEqual([]);
    const identities = (await cluster.db.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM identities')).rows[0]!.n;
    expect(identities).toBe(6);
    // Every live node serves version 2, loaded from PostgreSQL (no weights went through Redis).
    const hash = (await cluster.db.query<{ hash: string }>('SELECT hash FROM model_versions WHERE version = 2')).rows[0]!.hash;
    for (const n of survivors) {
      await until(async () => ((await getJson<{ version: number }>(`${n.url}/v1/models/latest`)).version === 2), 20_000, `${n.nodeId} to serve version 2`);
      expect((await getJson<{ hash: string }>(`${n.url}/v1/models/latest`)).hash).toBe(hash);
    }
    expect(await cluster.redis.client().keys('*:model:*')).toEqual([]);

    // One serving version for the fleet: the operator rolls back on one node (straight to it,
    // not through nginx), and every live node serves version 1 again (they share the serving log).
    const [a, b] = survivors as [(typeof survivors)[0], (typeof survivors)[0]];
    const operator = readFileSync(path.join(cluster.dir, a.nodeId, 'operator-token'), 'utf8').trim();
    const rolled = await fetch(`${a.url}/v1/admin/serving/rollback`, { method: 'POST', headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'complaints' }) });
    expect(rolled.status).toBe(200);
    for (const n of [a, b]) await until(async () => ((await getJson<{ version: number }>(`${n.url}/v1/models/serving`)).version === 1), 10_000, `${n.nodeId} to serve version 1 after the rollback on ${a.nodeId}`);
    expect([...b.proc.lines.map((l) => JSON.stringify(l)), ...b.proc.stderr].some((l) => /serving version changed by another node/.test(l))).toBe(true);
  });
});
