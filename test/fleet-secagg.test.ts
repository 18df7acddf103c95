import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { FlockClient } from '@flock/client';
import { createPresetModel, selectBackend } from '@flock/model';
import { generateIdentityKeyPair, toHex } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { decodePartial, type Partial } from '../packages/coordinator/src/fleet/partials.js';
import { fleetKeys } from '../packages/coordinator/src/fleet/keys.js';
import { clusterTestHooks, fleetLines, getJson, startNode, type FleetNode } from './fleet-cluster.js';
import { fleetBinaries, spawnRedis, until, type RedisProcess } from './fleet-redis.js';
import { fashionSlices } from './helpers.js';

const { cleanups } = clusterTestHooks();
const CLIP = 1;
const MIN_GROUP = 3;

/** redis-server and two `flock coordinator --redis` nodes with secure aggregation on (one config file). */
async function secureFleet(minClients: number, leaderFirst = false): Promise<{ redis: RedisProcess; nodes: FleetNode[] }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'flock-fleet-secagg-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const redis = await spawnRedis();
  cleanups.push(() => redis.stop());
  const key = generateIdentityKeyPair(nodePlatform);
  const config = path.join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ fraction: 1, secureAggregation: { enabled: true, clip: CLIP, weightCap: 1000, stageTimeoutMs: 15_000 } }));
  for (const n of ['n1', 'n2']) {
    mkdirSync(path.join(dir, n), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(dir, n, 'coordinator-key.json'), JSON.stringify({ publicKey: toHex(key.publicKey), secretKey: toHex(key.secretKey) }) + '\n', { mode: 0o600 });
  }
  const args = ['--config', config, '--min-clients', String(minClients), '--rounds', '1', '--timeout', '90', '--lease', '3', '--min-group-size', String(MIN_GROUP)];
  if (!leaderFirst) return { redis, nodes: await Promise.all(['n1', 'n2'].map((n) => startNode(redis.url, dir, n, args, cleanups))) };
  // n2 alone first: it takes the lease, then n1 joins as a follower.
  const n2 = await startNode(redis.url, dir, 'n2', args, cleanups);
  await n2.proc.waitFor((l) => l.event === 'fleet' && l.type === 'leader', 60_000);
  const nodes = [await startNode(redis.url, dir, 'n1', args, cleanups), n2];
  return { redis, nodes };
}

/** SDK clients (secure aggregation, real crypto), `perNode[i]` of them connected straight to node i. */
async function clientsOn(nodes: FleetNode[], perNode: number[], prefix = 'g'): Promise<{ clients: FlockClient[]; deltas: Map<string, { delta: Float32Array; n: number }>; home: Map<string, string> }> {
  await selectBackend('cpu');
  const total = perNode.reduce((a, b) => a + b, 0);
  const data = await fashionSlices(total, 60);
  cleanups.push(() => tf.dispose(data.flatMap((d) => [d.x, d.y])));
  const deltas = new Map<string, { delta: Float32Array; n: number }>();
  const home = new Map<string, string>();
  const clients: FlockClient[] = [];
  let i = 0;
  perNode.forEach((count, k) => {
    for (let j = 0; j < count; j++, i++) {
      const d = data[i]!;
      const id = `${prefix}${k}-${j}`;
      home.set(id, nodes[k]!.nodeId);
      // Different example counts: the weighted mean differs from the plain one.
      const c = new FlockClient({ url: nodes[k]!.url, clientId: id, model: () => createPresetModel('mlp', { seed: 1 }), data: { x: d.x.slice(0, 30 + 5 * i), y: d.y.slice(0, 30 + 5 * i) }, seed: i, crypto: nodePlatform });
      c.on('update', (u) => deltas.set(id, { delta: u.delta, n: u.numExamples }));
      clients.push(c);
    }
  });
  cleanups.push(() => Promise.all(clients.map((c) => c.stop())).then(() => undefined));
  await Promise.all(clients.map((c) => c.start()));
  return { clients, deltas, home };
}

async function weights(url: string, version: number): Promise<Float32Array> {
  const res = await fetch(`${url}/v1/models/${version}/weights.bin`);
  expect(res.status).toBe(200);
  return new Float32Array(await res.arrayBuffer());
}

/** What crossed Redis: every partial on the fleet's partials stream. */
async function partialsInRedis(redis: RedisProcess): Promise<Partial[]> {
  const client = redis.client();
  try {
    const entries = await client.xrangeBuffer(fleetKeys('default').partials, '-', '+');
    return entries.map(([, fields]) => {
      const i = fields.findIndex((f) => f.toString() === 'p');
      return decodePartial(fields[i + 1]!);
    });
  } finally {
    client.disconnect();
  }
}

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
    const { redis, nodes } = await secureFleet(6);
    const { deltas, home } = await clientsOn(nodes, [3, 3]);
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
    const { redis, nodes } = await secureFleet(4, true);
    const leader = nodes[1]!;
    const started = new Set<string>();
    const small = await clientsOn([leader], [2], 'small');
    small.clients.forEach((c) => c.on('round:start', () => started.add(c.clientId)));
    const large = await clientsOn([nodes[0]!], [4], 'large');
    const home = new Map([...small.home, ...large.home]);
    const { line } = await committedRound([leader]);
    expect(line).toMatchObject({ status: 'committed', modelVersion: 1, reporters: 4 });
    const rounds = await getJson<{ rounds: Array<{ reporters: string[]; rejected: Array<{ clientId: string; code: string }> }> }>(`${leader.url}/v1/rounds`);
    const r = rounds.rounds.at(-1)!;
    const smallIds = [...small.home.keys()].sort();
    expect([...r.reporters].sort()).toEqual([...home].filter(([, n]) => n === 'n1').map(([id]) => id).sort());
    expect(r.rejected.filter((x) => x.code === 'SECAGG_GROUP_TOO_SMALL').map((x) => x.clientId).sort()).toEqual(smallIds);
    // The small group was never told of the round, so it never masked or sent anything.
    for (const id of smallIds) expect(started.has(id)).toBe(false);
    const partials = await partialsInRedis(redis);
    expect(partials.filter((p) => p.sum).map((p) => [p.nodeId, p.reporters.length])).toEqual([['n1', 4]]);
    for (const p of partials) {
      expect(p.reporters.some((id) => smallIds.includes(id))).toBe(false);
      if (p.sum) expect(p.reporters.length).toBeGreaterThanOrEqual(MIN_GROUP);
    }
  });
});
