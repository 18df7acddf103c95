import { describe, expect, it } from 'vitest';
import { clusterTestHooks, fleetLines, getJson, type FleetNode } from './fleet-cluster.js';
import { fleetBinaries, until } from './fleet-redis.js';
import { CLIP, MIN_GROUP, clientsOn, partialsInRedis, secureFleet, weights } from './fleet-secure.js';

const { cleanups, track } = clusterTestHooks();

const clipped = (v: number): number => Math.max(-CLIP, Math.min(CLIP, v));

/** Σ nᵢ·clip(δᵢ) over `ids` (float64). */
function weightedSum(deltas: Map<string, { delta: Float32Array; n: number }>, ids: readonly string[], length: number): Float64Array {
  const s = new Float64Array(length);
  for (const id of ids) {
    const { delta, n } = deltas.get(id)!;
    for (let i = 0; i < length; i++) s[i]! += n * clipped(delta[i]!);
  }
  return s;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function committedRound(nodes: FleetNode[]): Promise<{ leader: FleetNode; line: Record<string, unknown> }> {
  return Promise.any(nodes.map((n) => n.proc.waitFor((l) => l.event === 'round', 240_000).then((line) => ({ leader: n, line }))));
}

describe.skipIf(!fleetBinaries())('grouped secure aggregation across fleet nodes', () => {
  it('each node runs SecAgg+ over its own group; the committed model is the plain weighted FedAvg, and only group sums of >= minGroupSize cross Redis', async () => {
    const { redis, nodes } = await secureFleet(cleanups, 6);
    track({ nodes } as never);
    const { deltas, home } = await clientsOn(cleanups, nodes, [3, 3]);
    const g0 = await weights(nodes[0]!.url, 0);
    const { leader, line } = await committedRound(nodes);
    expect(line).toMatchObject({ status: 'committed', modelVersion: 1, reporters: 6 });
    const ids = [...home.keys()];
    await until(() => deltas.size === 6, 30_000, 'six updates');

    // The model equals plain weighted FedAvg of the six clipped deltas, up to quantization.
    const W = ids.reduce((a, id) => a + deltas.get(id)!.n, 0);
    const sum = weightedSum(deltas, ids, g0.length);
    const expected = Float64Array.from(g0, (w, i) => w + sum[i]! / W);
    expect(maxAbsDiff(await weights(leader.url, 1), expected)).toBeLessThan(1e-5);

    // What crossed Redis: the follower's partial, a sum over its whole group, never one update.
    const follower = nodes.find((n) => n !== leader)!;
    const partials = (await partialsInRedis(redis)).filter((p) => p.sum);
    expect(partials.length).toBeGreaterThan(0);
    for (const p of partials) {
      expect(p.nodeId).toBe(follower.nodeId);
      expect(p.reporters.length).toBeGreaterThanOrEqual(MIN_GROUP);
      expect(p.count).toBe(p.reporters.length);
      expect(p.reporters.every((id) => home.get(id) === follower.nodeId)).toBe(true);
      // It is exactly its reporters' weighted sum (up to quantization) ...
      expect(maxAbsDiff(p.sum!, weightedSum(deltas, p.reporters, g0.length))).toBeLessThan(1e-3);
      expect(p.weightTotal).toBe(p.reporters.reduce((a, id) => a + deltas.get(id)!.n, 0));
      // ... and equals no single client's (weighted) update, nor any sum of fewer than all of them.
      for (const id of ids) expect(maxAbsDiff(p.sum!, weightedSum(deltas, [id], g0.length))).toBeGreaterThan(0.01);
      for (const drop of p.reporters) expect(maxAbsDiff(p.sum!, weightedSum(deltas, p.reporters.filter((x) => x !== drop), g0.length))).toBeGreaterThan(0.01);
    }
    // The leader merged the follower's group sum once; its own group never left the node.
    const merged = fleetLines(leader.proc, 'partial').filter((m) => m.verdict === 'merged');
    expect(merged.map((m) => [m.from, m.reporters])).toEqual([[follower.nodeId, 3]]);
  });

  it('a group below minGroupSize never runs SecAgg+: its members are settled SECAGG_GROUP_TOO_SMALL and nothing of theirs crosses Redis', async () => {
    // n2 leads, with a group of 2 (< minGroupSize 3) connected before the others: the cohort
    // of 4 the leader waits for includes them. n1 (a follower) has a group of 4.
    const { redis, nodes } = await secureFleet(cleanups, 4, true);
    track({ nodes } as never);
    const leader = nodes[1]!;
    const started = new Set<string>();
    const small = await clientsOn(cleanups, [leader], [2], 'small');
    small.clients.forEach((c) => c.on('round:start', () => started.add(c.clientId)));
    const large = await clientsOn(cleanups, [nodes[0]!], [4], 'large');
    const home = new Map([...small.home, ...large.home]);
    // An earlier round may start before all of n1's clients are visible to the leader (its group
    // then too small as well, or below the quorum): the committed one is the one to check.
    const line = await leader.proc.waitFor((l) => l.event === 'round' && l.status === 'committed', 240_000);
    expect(line).toMatchObject({ status: 'committed', modelVersion: 1, reporters: 4 });
    const rounds = await getJson<{ rounds: Array<{ reporters: string[]; rejected: Array<{ clientId: string; code: string }> }> }>(`${leader.url}/v1/rounds`);
    const r = rounds.rounds.find((x) => (x as { status?: string }).status === 'committed')!;
    const smallIds = [...small.home.keys()].sort();
    expect([...r.reporters].sort()).toEqual([...home].filter(([, n]) => n === 'n1').map(([id]) => id).sort());
    expect(r.rejected.filter((x) => x.code === 'SECAGG_GROUP_TOO_SMALL').map((x) => x.clientId).sort()).toEqual(smallIds);
    // The small group was never told of the round, so it never masked or sent anything.
    for (const id of smallIds) expect(started.has(id)).toBe(false);
    const partials = await partialsInRedis(redis);
    expect(partials.filter((p) => p.sum).map((p) => [p.nodeId, p.reporters.length]).at(-1)).toEqual(['n1', 4]);
    for (const p of partials) {
      expect(p.reporters.some((id) => smallIds.includes(id))).toBe(false);
      if (p.sum) expect(p.reporters.length).toBeGreaterThanOrEqual(MIN_GROUP);
      if (p.sum) expect(p.nodeId).toBe('n1');
    }
  });

  it('a node with secure aggregation off never collects a round the leader runs securely: its members are refused SECAGG_UNAVAILABLE, unheard', async () => {
    // n2 leads with secure aggregation; n1 was started without it. The cohort needs all six.
    const { redis, nodes } = await secureFleet(cleanups, 6, true, [], true);
    track({ nodes } as never);
    const [n1, leader] = nodes as [FleetNode, FleetNode];
    const started = new Set<string>();
    const own = await clientsOn(cleanups, [leader], [3], 'own');
    const plain = await clientsOn(cleanups, [n1], [3], 'plain');
    plain.clients.forEach((c) => c.on('round:start', () => started.add(c.clientId)));
    const line = await leader.proc.waitFor((l) => l.event === 'round', 240_000);
    // Three reported (the leader's group), below the quorum of six: abandoned, nothing committed.
    expect(line).toMatchObject({ status: 'abandoned', reporters: 3, modelVersion: 0 });
    const rounds = await getJson<{ rounds: Array<{ reporters: string[]; rejected: Array<{ clientId: string; code: string }> }> }>(`${leader.url}/v1/rounds`);
    const r = rounds.rounds[0]!;
    expect([...r.reporters].sort()).toEqual([...own.home.keys()].sort());
    expect(r.rejected.filter((x) => x.code === 'SECAGG_UNAVAILABLE').map((x) => x.clientId).sort()).toEqual([...plain.home.keys()].sort());
    expect(started.size).toBe(0);
    expect((await partialsInRedis(redis)).filter((p) => p.nodeId === 'n1' && (p.sum || p.reporters.length > 0))).toEqual([]);
  });
});
