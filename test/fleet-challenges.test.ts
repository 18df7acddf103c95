import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { FleetChallenges } from '../packages/coordinator/src/fleet/challenges.js';
import { fleetKeys } from '../packages/coordinator/src/fleet/keys.js';
import { fleetBinaries, spawnRedis, type RedisProcess } from './fleet-redis.js';

let redis: RedisProcess | undefined;
afterEach(async () => {
  await redis?.stop();
  redis = undefined;
});

// Real redis-server: two nodes' nonce stores on one fleet.
describe.skipIf(!fleetBinaries())('fleet handshake nonces', () => {
  it('a nonce issued by one node is accepted once by any node, and never when tampered, expired, issued under another key, or with Redis away', async () => {
    redis = await spawnRedis();
    const keys = fleetKeys('fed');
    const client = (): ReturnType<RedisProcess['client']> => redis!.client().on('error', () => undefined); // Redis is killed below
    const secret = randomBytes(64);
    const a = new FleetChallenges({ redis: client(), keys, secret });
    const b = new FleetChallenges({ redis: client(), keys, secret });
    const { nonce } = a.issue();
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{16,128}$/);
    expect(await b.consume(nonce)).toBe(true);
    // Single use fleet-wide: neither node accepts it again.
    expect(await b.consume(nonce)).toBe(false);
    expect(await a.consume(nonce)).toBe(false);
    // Tampered (one character), issued under another key, expired, garbage.
    const n2 = a.issue().nonce;
    const flipped = n2.slice(0, 5) + (n2[5] === 'A' ? 'B' : 'A') + n2.slice(6);
    expect(await b.consume(flipped)).toBe(false);
    const other = new FleetChallenges({ redis: client(), keys, secret: randomBytes(64) });
    expect(await b.consume(other.issue().nonce)).toBe(false);
    const old = a.issue(Date.now() - 120_000).nonce;
    expect(await b.consume(old)).toBe(false);
    expect(await b.consume('not-a-nonce-at-all')).toBe(false);
    // The untouched original of the tampered one still works (the failed attempts burnt nothing of it).
    expect(await b.consume(n2)).toBe(true);
    // Redis away: refused (the client fetches a fresh nonce later), never admitted unchecked.
    const n3 = a.issue().nonce;
    await redis.kill();
    expect(await b.consume(n3)).toBe(false);
  });

  it('checks its secret', () => {
    expect(() => new FleetChallenges({ redis: undefined as never, keys: fleetKeys('f'), secret: new Uint8Array(8) })).toThrow(TypeError);
  });
});
