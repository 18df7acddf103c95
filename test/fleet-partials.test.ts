import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WeightedMeanAggregator } from '../packages/coordinator/src/aggregator.js';
import { PartialSumAggregator } from '../packages/coordinator/src/fleet/partial-sum.js';
import { PartialLedger, decodePartial, encodePartial, type MergeVerdict, type Partial } from '../packages/coordinator/src/fleet/partials.js';
import { StreamFollower, appendEntry } from '../packages/coordinator/src/fleet/stream.js';
import { fleetBinaries, spawnRedis, until, type RedisProcess } from './fleet-redis.js';

const N = 1000;

/** An update with dyadic values (k / 1024, small k): float64 sums of them are exact in any order. */
function dyadicUpdate(seed: number): Float32Array {
  const d = new Float32Array(N);
  for (let i = 0; i < N; i++) d[i] = (((seed * 7919 + i * 104729) % 2001) - 1000) / 1024;
  return d;
}

function partialOf(nodeId: string, roundId: string, token: number, updates: Array<{ id: string; delta: Float32Array; weight: number }>): Partial {
  const agg = new PartialSumAggregator(N);
  for (const u of updates) agg.add(u.id, u.delta, u.weight);
  const { sum, weightTotal, count } = agg.partial();
  return {
    roundId,
    round: 3,
    nodeId,
    token,
    reporters: updates.map((u) => u.id),
    rejected: [],
    numExamples: weightTotal,
    weightTotal,
    count,
    metrics: { loss: { sum: 0.25 * weightTotal, weight: weightTotal } },
    sum: Float64Array.from(sum),
  };
}

describe('fleet partial codec', () => {
  it('round-trips a partial bit for bit, floats in binary only', () => {
    const p = partialOf('node-a', 'r1', 7, [{ id: 'c1', delta: Float32Array.from({ length: N }, (_, i) => Math.sin(i) / 3), weight: 17 }]);
    const buf = encodePartial(p);
    const back = decodePartial(buf);
    expect(back).toEqual(p);
    expect(Buffer.from(back.sum!.buffer).equals(Buffer.from(p.sum!.buffer))).toBe(true);
    // The JSON header names the ids and counts; no float of the sum appears in it.
    const header = buf.subarray(8, 8 + buf.readUInt32LE(4)).toString('utf8');
    expect(header).not.toMatch(/\d\.\d/);
  });

  it('refuses malformed partials with BAD_MESSAGE', () => {
    const buf = encodePartial(partialOf('n', 'r', 1, [{ id: 'c', delta: dyadicUpdate(1), weight: 1 }]));
    expect(() => decodePartial(buf.subarray(0, buf.length - 8))).toThrow(expect.objectContaining({ code: 'BAD_MESSAGE' }));
    const bad = Buffer.from(buf);
    bad.writeUInt32LE(0, 0);
    expect(() => decodePartial(bad)).toThrow(expect.objectContaining({ code: 'BAD_MESSAGE' }));
    const nan = Buffer.from(buf);
    nan.writeDoubleLE(NaN, nan.length - 8);
    expect(() => decodePartial(nan)).toThrow(expect.objectContaining({ code: 'BAD_MESSAGE' }));
    expect(() => decodePartial('x' as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe.skipIf(!fleetBinaries())('fleet partials over a real redis-server', () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await spawnRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('the leader merges each (round, node) once, refuses stale rounds and tokens, and the merged sum equals a flat aggregation exactly', async () => {
    const updates = Array.from({ length: 9 }, (_, k) => ({ id: `c${k}`, delta: dyadicUpdate(k + 1), weight: 1 + ((k * 5) % 11) }));
    const byNode = { a: updates.slice(0, 4), b: updates.slice(4, 7), c: updates.slice(7) };
    const ledger = new PartialLedger('round-9', 4, new Map(Object.entries(byNode).map(([n, us]) => [n, us.map((u) => u.id)])));
    const merged = new PartialSumAggregator(N);
    const verdicts: Array<[string, MergeVerdict]> = [];
    const reporters: string[] = [];
    const key = 'flock:t:partials';
    const follower = new StreamFollower(redis.client(), key, ({ fields }) => {
      const p = decodePartial(fields.get('partial')!);
      const v = ledger.accept(p);
      verdicts.push([p.nodeId, v]);
      if (v === 'merged') {
        merged.addPartial(p.sum!, p.weightTotal, p.count);
        reporters.push(...p.reporters);
      }
    });
    await follower.start();
    const ship = redis.client();
    const send = (p: Partial): Promise<string> => appendEntry(ship, key, { partial: encodePartial(p) });
    await send(partialOf('a', 'round-9', 4, byNode.a));
    await send(partialOf('a', 'round-9', 4, byNode.a)); // a retry: ignored
    await send(partialOf('b', 'round-8', 4, byNode.b)); // a partial of an earlier round
    await send(partialOf('b', 'round-9', 3, byNode.b)); // made for a deposed leader's plan
    await send(partialOf('z', 'round-9', 4, byNode.b)); // a node that was given nobody
    await send(partialOf('b', 'round-9', 4, byNode.b));
    await send(partialOf('c', 'round-9', 4, byNode.c));
    await until(() => verdicts.length === 7, 20_000, 'all partials read');
    await follower.stop();
    expect(verdicts).toEqual([
      ['a', 'merged'],
      ['a', 'duplicate'],
      ['b', 'stale-round'],
      ['b', 'wrong-token'],
      ['z', 'not-assigned'],
      ['b', 'merged'],
      ['c', 'merged'],
    ]);
    expect(ledger.pending()).toEqual([]);
    expect(reporters.sort()).toEqual(updates.map((u) => u.id).sort());
    // One coordinator summing the same updates.
    const flat = new WeightedMeanAggregator(N);
    for (const u of updates) flat.add(u.id, u.delta, u.weight);
    const a = flat.result();
    const b = merged.result();
    expect(b.count).toBe(a.count);
    expect(b.totalWeight).toBe(a.totalWeight);
    expect(Buffer.from(b.meanDelta.buffer).equals(Buffer.from(a.meanDelta.buffer))).toBe(true);
  });

  it('a node given up (it died) has its members returned once and its late partial refused', async () => {
    const ledger = new PartialLedger('r', 1, new Map([['a', ['c1', 'c2']], ['b', ['c3']]]));
    expect(ledger.giveUp('a')).toEqual(['c1', 'c2']);
    expect(ledger.giveUp('a')).toEqual([]);
    expect(ledger.accept({ roundId: 'r', token: 1, nodeId: 'a' })).toBe('node-lost');
    expect(ledger.accept({ roundId: 'r', token: 1, nodeId: 'b' })).toBe('merged');
    expect(ledger.giveUp('b')).toEqual([]);
    expect(ledger.pending()).toEqual([]);
  });
});
