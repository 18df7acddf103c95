import { describe, expect, it } from 'vitest';
import { fleetBinaries } from './fleet-redis.js';
import { startClients } from './fleet-cluster.js';
import { pgHistory, startPgCluster, pgClusterTestHooks } from './fleet-pg-cluster.js';

const { cleanups, track } = pgClusterTestHooks();
const PG = process.env.FLOCK_TEST_POSTGRES_URL;
if (!PG && process.env.FLOCK_REQUIRE_POSTGRES === '1') throw new Error('FLOCK_REQUIRE_POSTGRES=1 but FLOCK_TEST_POSTGRES_URL is not set');
const skip = !PG ? 'FLOCK_TEST_POSTGRES_URL is not set' : !fleetBinaries({ nginx: true }) ? 'redis-server or nginx missing' : undefined;

// The whole fleet (two `flock coordinator --redis --postgres` nodes) killed with SIGKILL while
// round 2 runs, then started again on the same PostgreSQL database: crash-resume as a single
// coordinator's (docs/explanation/durability.md), with the fleet's leader doing the resuming.
describe.skipIf(skip !== undefined)(`fleet on PostgreSQL: every node killed mid-round and restarted${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('resumes from PostgreSQL: the cut round is abandoned (coordinator-restarted), a fresh round commits the next version, versions consecutive, each committed once', async () => {
    const cluster = track(await startPgCluster(2, PG!, ['--open', '--min-clients', '4', '--rounds', '2', '--timeout', '20', '--lease', '2'], cleanups, { nginx: true }));
    const clients = await startClients(cluster.nginx!.url, 4, cleanups);
    let killed: Promise<void> | undefined;
    for (const cl of clients) {
      cl.on('round:start', (s) => {
        if (killed || s.round !== 2) return;
        killed = Promise.all(cluster.nodes.map((n) => n.kill())).then(() => undefined);
      });
    }
    await Promise.all(clients.map((c) => c.start()));
    const started = Date.now();
    while (!killed && Date.now() - started < 90_000) await new Promise((r) => setTimeout(r, 50));
    expect(killed).toBeDefined();
    await killed;
    // What the crash left: version 1 committed, round 2 still `running`.
    const cutOff = await pgHistory(cluster.db);
    expect(cutOff.versions).toEqual([0, 1]);
    const running = cutOff.rounds.filter((r) => r.status === 'running').map((r) => r.round);
    expect(running).toEqual([2]);

    const nodes = await Promise.all(cluster.nodes.map((_, i) => cluster.restart(i)));
    const done = await Promise.any(nodes.map((n) => n.proc.waitFor((l) => l.event === 'done', 120_000)));
    expect(done.modelVersion).toBe(2);
    for (const n of nodes) expect(n.proc.lines.find((l) => l.event === 'listening')).toMatchObject({ resumed: true, modelVersion: 1 });
    const h = await pgHistory(cluster.db);
    expect(h.versions).toEqual([0, 1, 2]);
    expect(h.rounds.filter((r) => r.status === 'committed').map((r) => r.committed_version)).toEqual([1, 2]);
    expect(h.rounds.filter((r) => r.status === 'running')).toEqual([]);
    // The round the crash cut off: abandoned as a single coordinator's crash-resume abandons it.
    const cut = h.rounds.find((r) => r.round === 2)!;
    expect(cut.status).toBe('abandoned');
    expect(JSON.parse(cut.reason!)).toMatchObject({ code: 'ROUND_ABANDONED', details: { reason: 'coordinator-restarted' } });
    // A fresh round (a new number) committed version 2.
    expect(h.rounds.find((r) => r.committed_version === 2)!.round).toBeGreaterThan(2);
  });
});
