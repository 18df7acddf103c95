import { describe, expect, it } from 'vitest';
import { fleetBinaries, until } from './fleet-redis.js';
import { clientsOf, clusterTestHooks, getJson, leaderOf, startClients, startCluster, killFollowerAtRoundStart } from './fleet-cluster.js';

const { cleanups, track } = clusterTestHooks();

interface Summary {
  round: number;
  status: string;
  modelVersion: number;
  reporters: string[];
  rejected: Array<{ clientId: string; code: string }>;
  numExamples: number;
  reason?: { code: string; details?: Record<string, unknown> };
}

// Processes killed with SIGKILL mid-federation: redis-server, three node processes, nginx, SDK clients.
describe.skipIf(!fleetBinaries({ nginx: true }))('fleet: a follower killed mid-round (behind nginx)', () => {
  it('kill -9 a follower mid-round: its clients reconnect through nginx, the round ends typed, nothing is counted twice, the next round commits', async () => {
    const cluster = track(await startCluster(3, ['--min-clients', '6', '--rounds', '2', '--timeout', '30', '--lease', '2'], cleanups));
    const clients = await startClients(cluster.nginx.url, 6, cleanups);
    const kill = killFollowerAtRoundStart(cluster, clients, (r) => r === 1);
    await Promise.all(clients.map((c) => c.start()));
    await until(() => kill.victim !== undefined, 120_000, 'round 1 to start with clients on a follower');
    expect(kill.victimClients.length).toBeGreaterThan(0);
    const leader = leaderOf(cluster)!;
    expect(leader).not.toBe(kill.victim);
    await leader.proc.waitFor((l) => l.event === 'done', 180_000);
    const { rounds } = await getJson<{ rounds: Summary[] }>(`${leader.url}/v1/rounds`);
    const first = rounds.find((r) => r.round === 1)!;
    // Round 1: committed with what arrived, or abandoned with a typed reason.
    if (first.status === 'abandoned') expect(['TOO_FEW_REPORTS', 'ROUND_ABANDONED']).toContain(first.reason?.code);
    else expect(first.status).toBe('committed');
    for (const r of rounds) {
      // Nobody twice, nobody both counted and rejected, and the example total is exactly one
      // 32-example report per reporter (a report merged twice would show here).
      expect(new Set(r.reporters).size).toBe(r.reporters.length);
      expect(r.reporters.filter((id) => r.rejected.some((x) => x.clientId === id))).toEqual([]);
      expect(r.numExamples).toBe(32 * r.reporters.length);
    }
    // The dead node's members (killed before they could train) never counted in round 1, and
    // were settled rather than waited for: lost with their node, or declining the round again
    // after reconnecting elsewhere.
    for (const id of kill.victimClients) {
      expect(first.reporters).not.toContain(id);
      expect(first.rejected.find((x) => x.clientId === id)?.code).toMatch(/^(NODE_LOST|NO_REPORT|NOT_SELECTED|DECLINED)$/);
    }
    // Its clients came back through nginx to the surviving nodes, and the last round counted all six.
    const last = rounds.filter((r) => r.status === 'committed').at(-1)!;
    expect([...last.reporters].sort()).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
    const survivors = cluster.nodes.filter((n) => n !== kill.victim);
    for (const id of kill.victimClients) expect(survivors.some((n) => clientsOf(n).has(id))).toBe(true);
    const committed = rounds.filter((r) => r.status === 'committed').map((r) => r.modelVersion);
    expect(committed).toEqual(committed.map((_, i) => i + 1));
  });
});
