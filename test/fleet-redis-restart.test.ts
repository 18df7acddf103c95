import { describe, expect, it } from 'vitest';
import { fleetBinaries } from './fleet-redis.js';
import { clusterTestHooks, getJson, leaderOf, startClients, startCluster } from './fleet-cluster.js';

const { cleanups, track } = clusterTestHooks();

// redis-server killed (-9, no persistence: everything in it is lost) and restarted on the same
// port while round 2 runs; three node processes behind nginx, SDK clients.
describe.skipIf(!fleetBinaries({ nginx: true }))('fleet: Redis restarted mid-round', () => {
  it('recovers: a node re-takes the lease, the cut round ends typed or commits, every version is committed once', async () => {
    const cluster = track(await startCluster(3, ['--min-clients', '6', '--rounds', '2', '--timeout', '30', '--lease', '2'], cleanups));
    const clients = await startClients(cluster.nginx.url, 6, cleanups);
    let cut: Promise<void> | undefined;
    for (const cl of clients) {
      cl.on('round:start', (s) => {
        if (cut || s.round !== 2) return;
        cut = (async () => {
          await cluster.redis.kill();
          await new Promise((r) => setTimeout(r, 500));
          await cluster.redis.restart();
        })();
      });
    }
    await Promise.all(clients.map((c) => c.start()));
    const done = await Promise.any(cluster.nodes.map((n) => n.proc.waitFor((l) => l.event === 'done', 240_000).then((l) => ({ n, l }))));
    expect(cut).toBeDefined();
    await cut;
    expect(done.l.modelVersion).toBe(2);
    expect(leaderOf(cluster)).toBe(done.n);
    const rounds = cluster.nodes.flatMap((n) => n.proc.lines.filter((l) => l.event === 'round'));
    // Each version committed once in the whole fleet; the rounds that did not commit ended typed.
    expect(rounds.filter((l) => l.status === 'committed').map((l) => Number(l.modelVersion)).sort()).toEqual([1, 2]);
    for (const l of rounds.filter((x) => x.status === 'committed')) expect(l.reporters).toBe(6);
    expect(rounds.every((l) => l.status === 'committed' || l.status === 'abandoned')).toBe(true);
    const { rounds: history } = await getJson<{ rounds: Array<{ status: string; reason?: { code: string } }> }>(`${done.n.url}/v1/rounds`);
    for (const r of history.filter((x) => x.status === 'abandoned')) expect(['ROUND_ABANDONED', 'TOO_FEW_REPORTS']).toContain(r.reason?.code);
  });
});
