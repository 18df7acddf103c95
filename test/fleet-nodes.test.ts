import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FlockClient } from '@flock/client';
import { Coordinator, FedAvg, FleetMember, fleetStrategy, type FleetEvent, type RoundSummary } from '@flock/coordinator';
import { createPresetModel, flatModelOf, selectBackend, type FlatModel } from '@flock/model';
import { generateIdentityKeyPair } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { RawPeer, fashionSlices } from './helpers.js';
import { fleetBinaries, spawnRedis, until, type RedisProcess } from './fleet-redis.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Node {
  coordinator: Coordinator;
  member: FleetMember;
  url: string;
  events: FleetEvent[];
  rounds: RoundSummary[];
}

let model: FlatModel;
// One federation, one coordinator identity (clients pin it): every node signs with this key.
const signingKey = generateIdentityKeyPair(nodePlatform);
beforeAll(async () => {
  await selectBackend('cpu');
  const m = createPresetModel('mlp', { seed: 1 });
  model = await flatModelOf(m);
  m.dispose();
});

async function startNode(redis: RedisProcess, settings: Record<string, unknown>, key = signingKey): Promise<Node> {
  const member = new FleetMember({ redisUrl: redis.url, federationId: 'fl', leaseMs: 4000 });
  const coordinator = new Coordinator({ model, strategy: fleetStrategy(new FedAvg()), settings: { auth: 'open', federationId: 'fl', ...settings }, fleet: member, signingKey: key });
  const url = await coordinator.listen(0, '127.0.0.1');
  const node: Node = { coordinator, member, url, events: [], rounds: [] };
  coordinator.on('fleet', (e: FleetEvent) => node.events.push(e));
  coordinator.on('round', (s: RoundSummary) => node.rounds.push(s));
  cleanups.push(() => coordinator.close());
  coordinator.start();
  return node;
}

// Several coordinator nodes in this process, one real redis-server, real SDK clients on loopback.
describe.skipIf(!fleetBinaries())('a fleet of coordinator nodes (in-process, real Redis)', () => {
  it('one leader runs the round over every node\'s clients; each update counts once; every node serves the new version', async () => {
    const redis = await spawnRedis();
    cleanups.push(() => redis.stop());
    const settings = { minClients: 6, rounds: 1, roundTimeoutMs: 60_000 };
    const nodes = [await startNode(redis, settings), await startNode(redis, settings), await startNode(redis, settings)];
    const slices = await fashionSlices(6, 32);
    cleanups.push(() => tf.dispose(slices.flatMap((s) => [s.x, s.y])));
    const clients = slices.map((data, i) => new FlockClient({ url: nodes[i % 3]!.url, clientId: `c${i}`, model: () => createPresetModel('mlp', { seed: 1 }), data }));
    cleanups.push(() => Promise.all(clients.map((c) => c.stop())).then(() => undefined));
    const accepted: string[] = [];
    clients.forEach((c, i) => c.on('round:report', (r) => r.accepted && accepted.push(`c${i}`)));
    await Promise.all(clients.map((c) => c.start()));
    await until(() => nodes.some((n) => n.rounds.length > 0), 90_000, 'a round');
    const leaders = nodes.filter((n) => n.member.isLeader);
    expect(leaders).toHaveLength(1);
    const leader = leaders[0]!;
    const summary = leader.rounds[0]!;
    expect(summary.status).toBe('committed');
    expect([...summary.reporters].sort()).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
    // Followers ran no round of their own.
    for (const n of nodes) if (n !== leader) expect(n.rounds).toEqual([]);
    // Each follower shipped one partial with its two clients; the leader merged each once and
    // counted its own two directly: 2 + 2 + 2 = 6, nobody twice.
    const shipped = nodes.filter((n) => n !== leader).map((n) => n.events.filter((e) => e.type === 'partial-shipped'));
    for (const s of shipped) expect(s.map((e) => (e as { reporters: number }).reporters)).toEqual([2]);
    const merged = leader.events.filter((e) => e.type === 'partial');
    expect(merged.map((e) => (e as { verdict: string }).verdict)).toEqual(['merged', 'merged']);
    await until(() => accepted.length === 6, 30_000, 'six acks');
    expect(accepted.sort()).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
    // Every node learns version 1, with the leader's hash.
    await until(() => nodes.every((n) => n.coordinator.store.latest().version === 1), 30_000, 'followers to sync');
    // Socket.IO runs on the Redis Streams adapter: an emit on one node reaches another node's sockets.
    const peer = new RawPeer(nodes[2]!.url, 'raw-peer');
    cleanups.push(() => peer.close());
    await peer.connected();
    const heard = new Promise<unknown>((resolve) => peer.socket.once('fleet:hello', resolve));
    await until(async () => {
      nodes[0]!.coordinator.io.emit('fleet:hello', { from: nodes[0]!.member.nodeId });
      return await Promise.race([heard.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 200))]);
    }, 20_000, 'the emit to cross nodes');
    expect(await heard).toEqual({ from: nodes[0]!.member.nodeId });
    for (const n of nodes) {
      const res = await fetch(`${n.url}/v1/models/latest`);
      const info = (await res.json()) as { version: number; hash: string };
      expect(info.version).toBe(1);
      expect(info.hash).toBe(summary.modelHash);
    }
    // The same key everywhere: nobody complains.
    for (const n of nodes) expect(n.events.filter((e) => e.type === 'key-mismatch')).toEqual([]);
  });

  it('a node that signs with another coordinator key is reported by the others', async () => {
    const redis = await spawnRedis();
    cleanups.push(() => redis.stop());
    const a = await startNode(redis, { minClients: 1 });
    const b = await startNode(redis, { minClients: 1 }, generateIdentityKeyPair(nodePlatform));
    await until(() => a.events.some((e) => e.type === 'key-mismatch') && b.events.some((e) => e.type === 'key-mismatch'), 20_000, 'both to notice');
    expect(a.events.filter((e) => e.type === 'key-mismatch')).toEqual([{ type: 'key-mismatch', nodeId: a.member.nodeId, other: b.member.nodeId }]);
  });
});
