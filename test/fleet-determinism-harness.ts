import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ModelPreset } from '@flock/model';
import { expect } from 'vitest';
import { until } from './fleet-redis.js';
import { fleetLines, getJson, leaderOf, startClients, startCluster, type Cluster, type FleetNode } from './fleet-cluster.js';

/** One deterministic fleet federation (docs/explanation/fleet.md "Deterministic mode"). */
export interface DeterministicFederation {
  rounds: number;
  clients: number;
  preset: ModelPreset;
}

type Cleanups = Array<() => Promise<void> | void>;

/** Node flags: seeded selection, --deterministic, every round needs every client. */
function nodeArgs(f: DeterministicFederation, cleanups: Cleanups): string[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'flock-fleet-det-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ selectionSeed: 11, train: { epochs: 1, batchSize: 16, learningRate: 0.5 } }));
  return ['--config', config, '--deterministic', '--model', f.preset, '--seed', '3', '--min-clients', String(f.clients), '--rounds', String(f.rounds), '--timeout', '30', '--lease', '2'];
}

export interface FleetRun {
  /** The (version, hash) announcements in Redis, in order. */
  announced: Array<{ version: number; hash: string }>;
  /** Every committed version in every node's log, dead nodes included, sorted. */
  commits: number[];
  /** The model hash served through nginx at the end. */
  finalHash: string;
  /** The leaders killed, with the version their cut-off round was training and their commits. */
  killed: Array<{ node: FleetNode; atVersion: number; token: number; commits: number[] }>;
  /** Fencing tokens of the leaders, in order of leadership. */
  tokens: number[];
}

const committedBy = (n: FleetNode): number[] => n.proc.lines.filter((l) => l.event === 'round' && l.status === 'committed').map((l) => Number(l.modelVersion));

/**
 * Runs the federation on a fresh 3-node fleet behind nginx with seeded SDK clients; for each
 * version in `killAt`, kills the leader with SIGKILL as soon as the round training from that
 * version has started (its clients are training). Waits until every live node serves the last
 * version.
 */
export async function runFleet(f: DeterministicFederation, killAt: readonly number[], cleanups: Cleanups, track: (c: Cluster) => Cluster): Promise<FleetRun> {
  const cluster = track(await startCluster(3, nodeArgs(f, cleanups), cleanups));
  const clients = await startClients(cluster.nginx.url, f.clients, cleanups, 32, { preset: f.preset, seed: 100 });
  const killed: FleetRun['killed'] = [];
  const pending = new Set(killAt);
  for (const cl of clients) {
    cl.on('round:start', (s) => {
      if (s.kind !== 'train' || !pending.has(s.modelVersion)) return;
      const leader = leaderOf(cluster);
      if (!leader) return;
      pending.delete(s.modelVersion);
      killed.push({ node: leader, atVersion: s.modelVersion, token: Number(fleetLines(leader.proc, 'leader').at(-1)?.token), commits: [] });
      // Synchronous: the round's clients are training; it can no longer commit.
      leader.killed = true;
      leader.proc.child.kill('SIGKILL');
    });
  }
  await Promise.all(clients.map((c) => c.start()));
  // The federation is done once a live node serves the last version and logged `done`.
  await until(() => cluster.nodes.some((n) => !n.killed && n.proc.lines.some((l) => l.event === 'done')), 240_000, 'the federation to finish');
  for (const n of cluster.nodes.filter((x) => !x.killed)) await until(async () => (await getJson<{ version: number }>(`${n.url}/v1/models/latest`)).version === f.rounds, 30_000, `${n.nodeId} to sync`);
  const latest = await getJson<{ version: number; hash: string }>(`${cluster.nginx.url}/v1/models/latest`);
  expect(latest.version).toBe(f.rounds);
  const entries = await cluster.redis.client().xrange('flock:default:versions', '-', '+');
  const announced = entries.map(([, fl]) => ({ version: Number(fl[fl.indexOf('version') + 1]), hash: String(fl[fl.indexOf('hash') + 1]) }));
  const commits = cluster.nodes.flatMap(committedBy).sort((a, b) => a - b);
  for (const k of killed) k.commits = committedBy(k.node);
  const tokens = cluster.nodes
    .flatMap((n) => fleetLines(n.proc, 'leader').map((l) => Number(l.token)))
    .sort((a, b) => a - b);
  return { announced, commits, finalHash: latest.hash, killed, tokens };
}

/** What both tests assert: the interrupted run committed the same versions, once each, as the calm one. */
export function expectSameFederation(calm: FleetRun, chaos: FleetRun, f: DeterministicFederation, killAt: readonly number[]): void {
  const versions = Array.from({ length: f.rounds }, (_, i) => i + 1);
  expect(calm.commits).toEqual(versions);
  // Every round changed the model (the runs train: equal hashes are not equal initial weights).
  expect(new Set(calm.announced.map((a) => a.hash)).size).toBe(f.rounds);
  expect(chaos.killed.map((k) => k.atVersion)).toEqual([...killAt]);
  // Each kill handed the lease to a node with a larger fencing token.
  expect(new Set(chaos.tokens).size).toBe(chaos.tokens.length);
  expect(chaos.tokens.length).toBeGreaterThanOrEqual(killAt.length + 1);
  // Versions 1..R, each committed exactly once in the whole fleet (dead leaders included), and
  // no killed leader committed the version its cut-off round was training.
  expect(chaos.commits).toEqual(versions);
  expect(chaos.announced.map((a) => a.version)).toEqual(versions);
  for (const k of chaos.killed) expect(k.commits.every((v) => v <= k.atVersion)).toBe(true);
  // The same bits: every version, and the final model served through nginx.
  expect(chaos.announced).toEqual(calm.announced);
  expect(chaos.finalHash).toBe(calm.finalHash);
}
