import { afterEach, describe, expect, it } from 'vitest';
import { fleetBinaries, until } from './fleet-redis.js';
import { fleetLines, startClients, startCluster } from './fleet-cluster.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

// Real processes: redis-server, three `flock coordinator --redis` nodes, Debian's nginx in
// front (WebSocket only), SDK clients connecting through nginx.
describe.skipIf(!fleetBinaries({ nginx: true }))('a fleet behind nginx', () => {
  it('commits a round over every node\'s clients, each update counted once, and serves the new version through the balancer', async () => {
    const { nodes, nginx } = await startCluster(3, ['--min-clients', '6', '--rounds', '1', '--timeout', '60', '--lease', '3'], cleanups);
    // Plain HTTP long-polling is refused: the balancer passes WebSocket upgrades only.
    expect((await fetch(`${nginx.url}/socket.io/?EIO=4&transport=polling`)).status).toBe(400);

    const clients = await startClients(nginx.url, 6, cleanups);
    const accepted: string[] = [];
    clients.forEach((c, i) => c.on('round:report', (r) => r.accepted && accepted.push(`c${i}`)));
    await Promise.all(clients.map((c) => c.start()));

    const round = await Promise.any(nodes.map((n) => n.proc.waitFor((l) => l.event === 'round', 120_000).then((l) => ({ node: n, l }))));
    const leader = round.node;
    expect(round.l).toMatchObject({ status: 'committed', modelVersion: 1, reporters: 6 });
    expect(fleetLines(leader.proc, 'leader')).toHaveLength(1);
    // Counted exactly once: the partials the leader merged plus its own clients make 6, and
    // each merged partial is one a follower shipped.
    const merged = fleetLines(leader.proc, 'partial');
    expect(merged.every((m) => m.verdict === 'merged')).toBe(true);
    const shipped = nodes.filter((n) => n !== leader).flatMap((n) => fleetLines(n.proc, 'partial-shipped'));
    const sum = (ls: Array<Record<string, unknown>>): number => ls.reduce((a, l) => a + Number(l.reporters), 0);
    expect(sum(merged)).toBe(sum(shipped));
    // nginx spread the clients: followers collected some of them.
    expect(sum(shipped)).toBeGreaterThan(0);
    expect(sum(shipped)).toBeLessThan(6);
    await until(() => accepted.length === 6, 30_000, 'six accepted reports');
    expect(accepted.sort()).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
    // Every node follows the commit; through the balancer, latest is version 1 whichever node answers.
    for (const n of nodes) {
      await until(async () => ((await (await fetch(`${n.url}/v1/models/latest`)).json()) as { version: number }).version === 1, 30_000, `${n.nodeId} to sync`);
    }
    const hashes = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const info = (await (await fetch(`${nginx.url}/v1/models/latest`)).json()) as { version: number; hash: string };
      expect(info.version).toBe(1);
      hashes.add(info.hash);
    }
    expect(hashes.size).toBe(1);
  });
});
