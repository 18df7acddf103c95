import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { FlockClient } from '@flock/client';
import { createPresetModel, selectBackend } from '@flock/model';
import { generateIdentityKeyPair, toHex } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { decodePartial, type Partial } from '../packages/coordinator/src/fleet/partials.js';
import { fleetKeys } from '../packages/coordinator/src/fleet/keys.js';
import { startNode, type FleetNode } from './fleet-cluster.js';
import { spawnRedis, type RedisProcess } from './fleet-redis.js';
import { fashionSlices } from './helpers.js';

// Helpers of the grouped secure aggregation tests (fleet-secagg*.test.ts).

type Cleanups = Array<() => Promise<void> | void>;
export const CLIP = 1;
export const MIN_GROUP = 3;

/** redis-server and two `flock coordinator --redis` nodes with secure aggregation on (one config file). */
export async function secureFleet(cleanups: Cleanups, minClients: number, leaderFirst = false, extra: string[] = [], followerPlain = false): Promise<{ redis: RedisProcess; nodes: FleetNode[] }> {
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
  const args = ['--config', config, '--min-clients', String(minClients), '--rounds', '1', '--timeout', '90', '--lease', '3', '--min-group-size', String(MIN_GROUP), ...extra];
  if (!leaderFirst) return { redis, nodes: await Promise.all(['n1', 'n2'].map((n) => startNode(redis.url, dir, n, args, cleanups))) };
  // n2 alone first: it takes the lease, then n1 joins as a follower.
  const n2 = await startNode(redis.url, dir, 'n2', args, cleanups);
  await n2.proc.waitFor((l) => l.event === 'fleet' && l.type === 'leader', 60_000);
  // followerPlain: n1 runs with secure aggregation off (a misconfigured node).
  const plain = path.join(dir, 'plain.json');
  writeFileSync(plain, JSON.stringify({ fraction: 1 }));
  const nodes = [await startNode(redis.url, dir, 'n1', followerPlain ? args.map((a) => (a === config ? plain : a)) : args, cleanups), n2];
  return { redis, nodes };
}

/** SDK clients (secure aggregation, real crypto), `perNode[i]` of them connected straight to node i. */
export async function clientsOn(cleanups: Cleanups, nodes: FleetNode[], perNode: number[], prefix = 'g'): Promise<{ clients: FlockClient[]; deltas: Map<string, { delta: Float32Array; n: number }>; home: Map<string, string> }> {
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

export async function weights(url: string, version: number): Promise<Float32Array> {
  const res = await fetch(`${url}/v1/models/${version}/weights.bin`);
  expect(res.status).toBe(200);
  return new Float32Array(await res.arrayBuffer());
}

/** What crossed Redis: every partial on the fleet's partials stream. */
export async function partialsInRedis(redis: RedisProcess): Promise<Partial[]> {
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

