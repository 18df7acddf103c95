import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { flock } from './flock-process.js';
import { fleetBinaries, until } from './fleet-redis.js';
import { clusterTestHooks, fleetLines, getJson, leaderOf, startClients, startCluster, type Cluster, type FleetNode } from './fleet-cluster.js';

const { cleanups, track } = clusterTestHooks();

const ROUNDS = 3;
const CLIENTS = 4;

/**
 * The federation both runs use (docs/explanation/fleet.md "Deterministic mode"): seeded
 * selection, seeded clients, --deterministic, every round needs every client.
 */
function nodeArgs(): string[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'flock-fleet-det-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ selectionSeed: 11, train: { epochs: 1, batchSize: 16, learningRate: 0.5 } }));
  return ['--config', config, '--deterministic', '--model', 'logreg', '--seed', '3', '--min-clients', String(CLIENTS), '--rounds', String(ROUNDS), '--timeout', '30', '--lease', '2'];
}

/** What the fleet committed: (version, hash) announcements in Redis, and each node's commit log lines. */
async function history(cluster: Cluster): Promise<{ announced: Array<{ version: number; hash: string }>; commits: number[] }> {
  const entries = await cluster.redis.client().xrange('flock:default:versions', '-', '+');
  const announced = entries.map(([, f]) => ({ version: Number(f[f.indexOf('version') + 1]), hash: String(f[f.indexOf('hash') + 1]) }));
  const commits = cluster.nodes.flatMap((n) => n.proc.lines.filter((l) => l.event === 'round' && l.status === 'committed').map((l) => Number(l.modelVersion)));
  return { announced, commits: commits.sort((a, b) => a - b) };
}

/** Waits for the federation to finish on `node`, then for every live node to serve the last version; returns its hash. */
async function finalHash(cluster: Cluster, node: FleetNode): Promise<string> {
  await node.proc.waitFor((l) => l.event === 'done', 180_000);
  for (const n of cluster.nodes.filter((x) => !x.killed)) await until(async () => (await getJson<{ version: number }>(`${n.url}/v1/models/latest`)).version === ROUNDS, 30_000, `${n.nodeId} to sync`);
  const latest = await getJson<{ version: number; hash: string }>(`${cluster.nginx.url}/v1/models/latest`);
  expect(latest.version).toBe(ROUNDS);
  return latest.hash;
}

// Processes killed with SIGKILL mid-federation: redis-server, three node processes, nginx, SDK clients.
describe.skipIf(!fleetBinaries({ nginx: true }))('fleet: deterministic mode survives kill -9 of the leader (behind nginx)', () => {
  it('kill -9 the leader mid-round: the final model hash equals an uninterrupted deterministic run, versions consecutive and each committed once', async () => {
    // 1. Uninterrupted: three nodes, the clients spread over them by nginx.
    const calm = track(await startCluster(3, nodeArgs(), cleanups));
    const calmClients = await startClients(calm.nginx.url, CLIENTS, cleanups, 32, { preset: 'logreg', seed: 100 });
    await Promise.all(calmClients.map((c) => c.start()));
    await until(() => leaderOf(calm) !== undefined, 60_000, 'a leader');
    const reference = await finalHash(calm, leaderOf(calm)!);
    const calmHistory = await history(calm);
    expect(calmHistory.commits).toEqual([1, 2, 3]);
    // Every round changed the model (the runs train: equal hashes are not equal initial weights).
    expect(new Set(calmHistory.announced.map((a) => a.hash)).size).toBe(ROUNDS);
    // Tear the first fleet down (cleanups run newest first) before the second one starts.
    for (const c of cleanups.splice(0).reverse()) await c();

    // 2. The same federation; the leader is killed while the round training version 2 runs.
    const cluster = track(await startCluster(3, nodeArgs(), cleanups));
    const clients = await startClients(cluster.nginx.url, CLIENTS, cleanups, 32, { preset: 'logreg', seed: 100 });
    let victim: FleetNode | undefined;
    for (const cl of clients) {
      cl.on('round:start', (s) => {
        if (victim || s.modelVersion !== 1 || s.kind !== 'train') return;
        const leader = leaderOf(cluster);
        if (!leader) return;
        victim = leader;
        // Synchronous: the round's clients are training; it can no longer commit.
        leader.killed = true;
        leader.proc.child.kill('SIGKILL');
      });
    }
    await Promise.all(clients.map((c) => c.start()));
    await until(() => victim !== undefined, 120_000, 'the round training version 2 to start');
    const oldToken = Number(fleetLines(victim!.proc, 'leader').at(-1)!.token);
    const next = await Promise.any(cluster.nodes.filter((n) => n !== victim).map((n) => n.proc.waitFor((l) => l.event === 'fleet' && l.type === 'leader', 60_000).then(() => n)));
    expect(Number(fleetLines(next.proc, 'leader').at(-1)!.token)).toBeGreaterThan(oldToken);
    const hash = await finalHash(cluster, next);
    const h = await history(cluster);
    // Versions 1..3, each committed exactly once in the whole fleet (dead leader included).
    expect(h.commits).toEqual([1, 2, 3]);
    expect(h.announced.map((a) => a.version)).toEqual([1, 2, 3]);
    // The cut-off round did not commit: the new leader trained version 2 again, to the same bits.
    expect(victim!.proc.lines.filter((l) => l.event === 'round' && l.status === 'committed').map((l) => Number(l.modelVersion))).toEqual([1]);
    expect(h.announced).toEqual(calmHistory.announced);
    expect(hash).toBe(reference);
  });
});

// No Redis needed: the refusals come before the node would use it.
describe('flock coordinator --redis: configurations a fleet refuses', () => {
  const refused = async (args: string[], config: Record<string, unknown> = {}): Promise<string> => {
    const dir = mkdtempSync(path.join(tmpdir(), 'flock-fleet-refuse-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    const p = flock(['coordinator', '--config', path.join(dir, 'config.json'), '--redis', 'redis://127.0.0.1:9', '--open', '--port', '0', '--data-dir', dir, '--log', 'json', ...args]);
    // A usage error (exit 2), and the process ends: no Redis connection is left reconnecting.
    expect(await p.exited()).toBe(2);
    return p.stderr.join('\n');
  };

  it('refuses a strategy with server state in deterministic mode, and exits even after a refusal from the coordinator itself', async () => {
    const [stateful, secagg] = await Promise.all([refused(['--deterministic', '--strategy', 'fedavgm']), refused([], { secureAggregation: { enabled: true } })]);
    expect(stateful).toMatch(/strategy fedavgm keeps server state .* deterministic mode runs stateless strategies only/);
    // Refused after the node was created: before, its Redis connection kept the process alive.
    expect(secagg).toMatch(/--redis: a fleet cannot run secure aggregation yet/);
  });
});
