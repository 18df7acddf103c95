import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FENCE_GUARD_LUA, Lease, leaseValue } from '../packages/coordinator/src/fleet/lease.js';
import { fleetBinaries, spawnRedis, until, type RedisProcess } from './fleet-redis.js';

// A real redis-server per file (fleet-redis.ts); no mocks.
describe.skipIf(!fleetBinaries())('fleet lease (real redis-server)', () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await spawnRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  const keys = (name: string): { key: string; fenceKey: string } => ({ key: `t:${name}:lease`, fenceKey: `t:${name}:fence` });

  it('two contenders: exactly one holds the lease, with a token from the fence counter', async () => {
    const a = new Lease({ redis: redis.client(), ...keys('one'), nodeId: 'a', leaseMs: 1000 });
    const b = new Lease({ redis: redis.client(), ...keys('one'), nodeId: 'b', leaseMs: 1000 });
    const acquired: string[] = [];
    a.on('acquired', () => acquired.push('a'));
    b.on('acquired', () => acquired.push('b'));
    a.start();
    b.start();
    await until(() => acquired.length > 0, 10_000, 'a leader');
    // Several renewal periods later, still exactly one, and the same one.
    await new Promise((r) => setTimeout(r, 1200));
    expect(acquired).toHaveLength(1);
    expect([a.holds(), b.holds()].filter(Boolean)).toHaveLength(1);
    const leader = a.holds() ? a : b;
    expect(await redis.client().get(keys('one').key)).toBe(leader.value);
    expect(leader.token).toBe(Number(await redis.client().get(keys('one').fenceKey)));
    await a.stop();
    await b.stop();
  });

  it('a leader that stops renewing is replaced after its lease expires, by a larger token, and learns it lost', async () => {
    // A lease long enough that a loaded machine's event-loop stalls do not end it by themselves.
    const a = new Lease({ redis: redis.client(), ...keys('two'), nodeId: 'a', leaseMs: 3000 });
    const lost: string[] = [];
    a.on('lost', ({ reason }) => lost.push(reason));
    a.start();
    await until(() => a.holds(), 10_000, 'a to lead');
    const first = a.token!;
    const b = new Lease({ redis: redis.client(), ...keys('two'), nodeId: 'b', leaseMs: 3000 });
    const taken: number[] = [];
    b.on('acquired', ({ token }) => taken.push(token));
    b.start();
    await new Promise((r) => setTimeout(r, 3500));
    // While a renews, b never gets it.
    expect(taken).toEqual([]);
    expect(lost).toEqual([]);
    a.pause(); // a stalls: no more renewals
    await until(() => taken.length === 1, 10_000, 'b to take over');
    expect(taken[0]).toBeGreaterThan(first);
    // a's own view: the watchdog ended its validity (it cannot ask Redis while paused).
    await until(() => lost.length === 1, 10_000, 'a to notice');
    expect(a.holds()).toBe(false);
    expect(lost).toEqual(['unreachable']);
    // Resuming, a finds someone else holds it, and contends again without getting it.
    a.resume();
    await new Promise((r) => setTimeout(r, 1500));
    expect(a.holds()).toBe(false);
    expect(b.holds()).toBe(true);
    await a.stop();
    await b.stop();
  });

  it("a deposed leader's token is refused by a fenced write", async () => {
    const a = new Lease({ redis: redis.client(), ...keys('three'), nodeId: 'a', leaseMs: 400 });
    a.start();
    await until(() => a.holds(), 10_000, 'a to lead');
    const oldValue = a.value!;
    a.pause();
    const b = new Lease({ redis: redis.client(), ...keys('three'), nodeId: 'b', leaseMs: 400 });
    b.start();
    await until(() => b.holds(), 10_000, 'b to take over');
    const c = redis.client();
    const WRITE = `${FENCE_GUARD_LUA}\nredis.call('SET', KEYS[2], ARGV[2]) return 1`;
    await expect(c.eval(WRITE, 2, keys('three').key, 't:three:data', oldValue, 'from a')).rejects.toThrow(/FENCED/);
    expect(await c.get('t:three:data')).toBeNull();
    expect(await c.eval(WRITE, 2, keys('three').key, 't:three:data', b.value!, 'from b')).toBe(1);
    expect(await c.get('t:three:data')).toBe('from b');
    expect(b.value).toBe(leaseValue(b.token!, 'b'));
    await a.stop();
    await b.stop();
  });

  it('stop() releases the lease so another contender takes it at once; bad options are refused', async () => {
    const a = new Lease({ redis: redis.client(), ...keys('four'), nodeId: 'a', leaseMs: 60_000 });
    a.start();
    await until(() => a.holds(), 10_000, 'a to lead');
    const lost: string[] = [];
    a.on('lost', ({ reason }) => lost.push(reason));
    await a.stop();
    expect(lost).toEqual(['released']);
    const b = new Lease({ redis: redis.client(), ...keys('four'), nodeId: 'b', leaseMs: 60_000 });
    b.start();
    // With a 60 s lease, only the release lets b in within this test's time.
    await until(() => b.holds(), 10_000, 'b to lead');
    await b.stop();
    expect(() => new Lease({ redis: redis.client(), ...keys('x'), nodeId: 'a:b', leaseMs: 1000 })).toThrow(RangeError);
    expect(() => new Lease({ redis: redis.client(), ...keys('x'), nodeId: 'a', leaseMs: 10 })).toThrow(RangeError);
  });
});
