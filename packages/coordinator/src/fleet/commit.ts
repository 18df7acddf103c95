import type { Redis } from 'ioredis';
import { FlockError, decodeFloat32, encodeFloat32, hashModel, type ModelSpec } from '@flock/protocol';
import { z } from 'zod';
import type { CommitFence } from '../round/commit.js';
import { FENCE_GUARD_LUA } from './lease.js';
import type { FleetKeys } from './keys.js';
import type { CommittedVersion } from './store-adapter.js';

/** Versions whose weights stay in Redis for followers catching up. */
export const KEEP_VERSIONS = 16;

/**
 * The fenced commit (docs/explanation/fleet.md): only the lease holder, and only on top of the
 * version its round trained. KEYS: lease, version, model:<v>, versions, model:<v - KEEP>.
 * ARGV: lease value, trained version, new version, weights, hash, round, metrics JSON.
 */
const COMMIT = `${FENCE_GUARD_LUA}
local cur = redis.call('GET', KEYS[2])
if cur and tonumber(cur) ~= tonumber(ARGV[2]) then return redis.error_reply('VERSION redis holds version ' .. cur .. '; the round trained ' .. ARGV[2]) end
redis.call('HSET', KEYS[3], 'weights', ARGV[4], 'hash', ARGV[5], 'round', ARGV[6], 'metrics', ARGV[7])
redis.call('SET', KEYS[2], ARGV[3])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', '1000', '*', 'version', ARGV[3], 'hash', ARGV[5])
redis.call('DEL', KEYS[5])
return 1`;

/** Seeds the version counter after a Redis restart (the leader's store is the truth). KEYS: lease, version. ARGV: lease value, version. */
const SEED = `${FENCE_GUARD_LUA}
redis.call('SET', KEYS[2], ARGV[2], 'NX')
return redis.call('GET', KEYS[2])`;

/** The leader's commit fence: publishes the version in Redis, or throws ROUND_ABANDONED with why not. */
export function fencedCommit(o: { redis: Redis; keys: FleetKeys; spec: ModelSpec; leaseValue(): string | undefined }): CommitFence {
  return async (next) => {
    const lease = o.leaseValue();
    if (lease === undefined) throw new FlockError('ROUND_ABANDONED', 'this node lost the fleet lease before the round could commit', { reason: 'lease-lost' });
    const { keys } = o;
    const hash = hashModel(o.spec, next.weights);
    try {
      await o.redis.eval(
        COMMIT,
        5,
        keys.lease,
        keys.version,
        keys.model(next.version),
        keys.versions,
        keys.model(next.version - KEEP_VERSIONS),
        lease,
        String(next.trained),
        String(next.version),
        Buffer.from(encodeFloat32(next.weights)),
        hash,
        String(next.round),
        JSON.stringify(next.metrics),
      );
    } catch (err) {
      const m = (err as Error).message;
      if (m.includes('FENCED')) throw new FlockError('ROUND_ABANDONED', 'another node holds the fleet lease now: a deposed leader cannot commit', { reason: 'lease-lost' });
      if (m.includes('VERSION')) throw new FlockError('ROUND_ABANDONED', `the fleet committed another version meanwhile (${m})`, { reason: 'version-conflict' });
      throw new FlockError('ROUND_ABANDONED', `could not publish the commit to Redis: ${m}`, { reason: 'redis-unavailable' });
    }
  };
}

/** A new leader sets Redis's version from its store if Redis lost it; returns Redis's version. */
export async function seedVersion(redis: Redis, keys: FleetKeys, leaseValue: string, local: number): Promise<number> {
  return Number(await redis.eval(SEED, 2, keys.lease, keys.version, leaseValue, String(local)));
}

/** Redis's latest committed version (undefined if Redis lost it). */
export async function publishedVersion(redis: Redis, keys: FleetKeys): Promise<number | undefined> {
  const v = await redis.get(keys.version);
  return v === null ? undefined : Number(v);
}

const metricsSchema = z.record(z.string(), z.number());

/** Reads one published version (undefined if it is gone from Redis). */
export async function readVersion(redis: Redis, keys: FleetKeys, version: number, numParams: number): Promise<CommittedVersion | undefined> {
  const h = await redis.hgetallBuffer(keys.model(version));
  if (!h.weights || !h.hash || !h.round || !h.metrics) return undefined;
  const w = h.weights;
  return {
    version,
    hash: h.hash.toString(),
    round: Number(h.round.toString()),
    weights: decodeFloat32(new Uint8Array(w.buffer, w.byteOffset, w.byteLength), numParams),
    metrics: metricsSchema.parse(JSON.parse(h.metrics.toString())),
  };
}

/**
 * Brings the local store up to `target` from the weights the leader published, one version at a
 * time, in order. Returns the versions applied. Stops (and reports) at a version Redis no longer
 * holds: that node needs the shared store, or a restart from a fresh database.
 */
export async function catchUp(o: { redis: Redis; keys: FleetKeys; store: { latest(): { version: number }; apply(v: CommittedVersion): unknown }; numParams: number }, target: number): Promise<CommittedVersion[]> {
  const applied: CommittedVersion[] = [];
  for (let v = o.store.latest().version + 1; v <= target; v++) {
    const c = await readVersion(o.redis, o.keys, v, o.numParams);
    // Committed here meanwhile (this node led and committed it itself): nothing to apply.
    if (o.store.latest().version >= v) continue;
    if (!c) throw new FlockError('MODEL_NOT_FOUND', `version ${v} is no longer in Redis (it keeps the last ${KEEP_VERSIONS}); this node cannot catch up on its own`);
    o.store.apply(c);
    applied.push(c);
  }
  return applied;
}
