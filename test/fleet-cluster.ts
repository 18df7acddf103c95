import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach } from 'vitest';
import { FlockClient } from '@flock/client';
import { createPresetModel, selectBackend, type ModelPreset } from '@flock/model';
import { generateIdentityKeyPair, toHex } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { flock, type Proc } from './flock-process.js';
import { fashionSlices } from './helpers.js';
import { spawnNginx, type NginxProcess } from './fleet-nginx.js';
import { spawnRedis, type RedisProcess } from './fleet-redis.js';

export interface FleetNode {
  proc: Proc;
  url: string;
  nodeId: string;
  killed: boolean;
  kill(): Promise<void>;
}

export interface Cluster {
  dir: string;
  redis: RedisProcess;
  nodes: FleetNode[];
  nginx: NginxProcess;
}

/** `flock coordinator --redis URL`: one fleet node as its own process. */
export async function startNode(redisUrl: string, dir: string, nodeId: string, extra: string[], cleanups: Array<() => Promise<void> | void>): Promise<FleetNode> {
  return await fleetNode(flock(['coordinator', '--redis', redisUrl, '--node-id', nodeId, '--open', '--port', '0', '--data-dir', path.join(dir, nodeId), '--log', 'json', ...extra]), nodeId, cleanups);
}

/** A started node process as a FleetNode, once it listens: kill() sends SIGKILL (once) and waits for the exit. */
export async function fleetNode(proc: Proc, nodeId: string, cleanups: Array<() => Promise<void> | void>): Promise<FleetNode> {
  const node: FleetNode = {
    proc,
    url: '',
    nodeId,
    killed: false,
    async kill() {
      node.killed = true;
      if (proc.child.exitCode === null && proc.child.signalCode === null) {
        proc.child.kill('SIGKILL');
        await proc.exited();
      }
    },
  };
  cleanups.push(() => node.kill());
  const l = await proc.waitFor((x) => x.event === 'listening', 60_000);
  node.url = String(l.url);
  return node;
}

/** The clients a node has a session with now, from its log lines on stderr. */
export function clientsOf(n: FleetNode): Set<string> {
  const on = new Set<string>();
  for (const line of n.proc.stderr) {
    if (!line.startsWith('{')) continue;
    const l = JSON.parse(line) as { msg?: string; clientId?: string };
    if (l.msg === 'client connected') on.add(l.clientId!);
    else if (l.msg === 'client disconnected') on.delete(l.clientId!);
  }
  return on;
}

/** redis-server, `n` node processes and nginx in front of them, all on free loopback ports. */
export async function startCluster(n: number, args: string[], cleanups: Array<() => Promise<void> | void>): Promise<Cluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'flock-fleet-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const redis = await spawnRedis();
  cleanups.push(() => redis.stop());
  // One federation, one coordinator identity: every node signs with the same key (clients pin
  // the first key they see and would refuse a node with another one after a reconnection).
  const key = generateIdentityKeyPair(nodePlatform);
  for (let i = 1; i <= n; i++) {
    mkdirSync(path.join(dir, `n${i}`), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(dir, `n${i}`, 'coordinator-key.json'), JSON.stringify({ publicKey: toHex(key.publicKey), secretKey: toHex(key.secretKey) }) + '\n', { mode: 0o600 });
  }
  const nodes = await Promise.all(Array.from({ length: n }, (_, i) => startNode(redis.url, dir, `n${i + 1}`, args, cleanups)));
  const nginx = await spawnNginx(path.join(dir, 'nginx'), nodes.map((x) => new URL(x.url).host));
  cleanups.push(() => nginx.stop());
  return { dir, redis, nodes, nginx };
}

/**
 * SDK clients on Fashion-MNIST slices, connecting through `url`. `preset`: the federation's
 * model preset (default mlp); `seed`: seeded clients (client i shuffles with seed + i), for
 * deterministic runs.
 */
export async function startClients(url: string, n: number, cleanups: Array<() => Promise<void> | void>, perClient = 32, opts: { preset?: ModelPreset; seed?: number } = {}): Promise<FlockClient[]> {
  await selectBackend('cpu');
  const slices = await fashionSlices(n, perClient);
  cleanups.push(() => tf.dispose(slices.flatMap((s) => [s.x, s.y])));
  const preset = opts.preset ?? 'mlp';
  const clients = slices.map(
    (data, i) => new FlockClient({ url, clientId: `c${i}`, model: () => createPresetModel(preset, { seed: 1 }), data, ...(opts.seed !== undefined ? { seed: opts.seed + i } : {}) }),
  );
  cleanups.push(() => Promise.all(clients.map((c) => c.stop())).then(() => undefined));
  return clients;
}

export const fleetLines = (p: Proc, type: string): Array<Record<string, unknown>> => p.lines.filter((l) => l.event === 'fleet' && l.type === type);

/** Which node currently leads (the last 'leader' line of a live node without a later 'follower' line). */
export function leaderOf(c: Cluster): FleetNode | undefined {
  return c.nodes.find((n) => {
    if (n.killed) return false;
    const roles = n.proc.lines.filter((l) => l.event === 'fleet' && (l.type === 'leader' || l.type === 'follower'));
    return roles.at(-1)?.type === 'leader';
  });
}

/** GET a JSON document. */
export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return (await res.json()) as T;
}

/**
 * A test file's cleanups, run after each test (newest first), and the cluster it started,
 * whose node logs are printed after a test when FLEET_DEBUG is set.
 */
export function clusterTestHooks<C extends { nodes: FleetNode[] } = Cluster>(): { cleanups: Array<() => Promise<void> | void>; track(c: C): C } {
  const cleanups: Array<() => Promise<void> | void> = [];
  let current: C | undefined;
  afterEach(async () => {
    if (process.env.FLEET_DEBUG && current) {
      for (const n of current.nodes) {
        console.log(`=== ${n.nodeId}`, JSON.stringify(n.proc.lines.filter((l) => l.event !== 'listening')));
        console.log(n.proc.stderr.filter((l) => !l.includes('"level":30')).slice(-30).join('\n'));
      }
    }
    current = undefined;
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return { cleanups, track: (c) => (current = c) };
}

/**
 * kill -9 of a follower that has clients, at the first `round:start` a client sees for which
 * `when(round)` holds. Synchronous in the event handler: the signal is sent before any of its
 * clients can have trained and uploaded. The returned record fills in when it happens.
 */
export function killFollowerAtRoundStart(cluster: { nodes: FleetNode[] }, clients: FlockClient[], when: (round: number) => boolean): { victim: FleetNode | undefined; victimClients: string[] } {
  const kill: { victim: FleetNode | undefined; victimClients: string[] } = { victim: undefined, victimClients: [] };
  for (const cl of clients) {
    cl.on('round:start', (s: { round: number }) => {
      if (kill.victim || !when(s.round)) return;
      const leader = leaderOf(cluster as Cluster);
      const follower = cluster.nodes.find((n) => n !== leader && clientsOf(n).size > 0);
      if (!follower) return;
      kill.victim = follower;
      kill.victimClients = [...clientsOf(follower)];
      follower.killed = true;
      follower.proc.child.kill('SIGKILL');
    });
  }
  return kill;
}
