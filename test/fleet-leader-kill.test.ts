import { describe, expect, it } from 'vitest';
import { fleetBinaries, until } from './fleet-redis.js';
import { clusterTestHooks, fleetLines, getJson, startClients, startCluster } from './fleet-cluster.js';

const { cleanups, track } = clusterTestHooks();

// Processes killed with SIGKILL mid-federation: redis-server, three node processes, nginx, SDK clients.
describe.skipIf(!fleetBinaries({ nginx: true }))('fleet: the leader killed (behind nginx)', () => {
  it('kill -9 the leader: another node takes the lease, versions stay consecutive, each committed exactly once', async () => {
    const cluster = track(await startCluster(3, ['--min-clients', '6', '--rounds', '3', '--timeout', '30', '--lease', '2'], cleanups));
    const clients = await startClients(cluster.nginx.url, 6, cleanups);
    await Promise.all(clients.map((c) => c.start()));
    const first = await Promise.any(cluster.nodes.map((n) => n.proc.waitFor((l) => l.event === 'round' && l.status === 'committed', 120_000).then(() => n)));
    const oldToken = Number(fleetLines(first.proc, 'leader').at(-1)!.token);
    await first.kill();
    const next = await Promise.any(cluster.nodes.filter((n) => n !== first).map((n) => n.proc.waitFor((l) => l.event === 'fleet' && l.type === 'leader', 60_000).then(() => n)));
    expect(Number(fleetLines(next.proc, 'leader').at(-1)!.token)).toBeGreaterThan(oldToken);
    await next.proc.waitFor((l) => l.event === 'done', 180_000);
    // Every commit in the whole fleet's history, dead leader included: versions 1, 2, 3, once each.
    const commits = cluster.nodes.flatMap((n) => n.proc.lines.filter((l) => l.event === 'round' && l.status === 'committed').map((l) => Number(l.modelVersion)));
    expect(commits.sort()).toEqual([1, 2, 3]);
    const announced = (await cluster.redis.client().xrange('flock:default:versions', '-', '+')).map(([, f]) => Number(f[f.indexOf('version') + 1]));
    expect(announced).toEqual([1, 2, 3]);
    // Through the balancer, the surviving nodes serve version 3.
    for (const n of cluster.nodes.filter((x) => !x.killed)) await until(async () => (await getJson<{ version: number }>(`${n.url}/v1/models/latest`)).version === 3, 30_000, `${n.nodeId} to sync`);
    expect((await getJson<{ version: number }>(`${cluster.nginx.url}/v1/models/latest`)).version).toBe(3);
  });
});
