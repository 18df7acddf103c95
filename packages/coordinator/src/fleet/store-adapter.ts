import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { ModelStore, ModelVersion } from '../model-store.js';
import type { CommitFence } from '../round/commit.js';
import type { FederationStore } from '../store/types.js';
import type { Strategy } from '../strategy.js';
import { catchUp, fencedCommit, seedVersion } from './commit.js';
import type { FleetKeys } from './keys.js';
import { sharedStoreAdapter } from './shared-store.js';

/** A version the leader committed, as a follower applies it. */
export interface CommittedVersion {
  version: number;
  hash: string;
  round: number;
  weights: Float32Array;
  metrics: Record<string, number>;
}

/** What a node's store adapter works with (fleet/member.ts hands it over). */
export interface FleetStoreContext {
  redis: Redis;
  keys: FleetKeys;
  numParams: number;
  store: ModelStore;
  database: FederationStore | undefined;
  strategy: Strategy;
  logger: Logger;
  /** The lease value (`<token>:<nodeId>`) while this node leads, else undefined. */
  leaseValue(): string | undefined;
}

/**
 * Every durable-state call of the fleet goes through this adapter, so the backend can change
 * without touching the fleet code: each node's own SQLite store, the leader's versions copied
 * into it through Redis ({@link localStoreAdapter}), or one PostgreSQL database shared by every
 * node (shared-store.ts). docs/explanation/fleet.md.
 */
export interface FleetStoreAdapter {
  /** True when every node reads and the leader writes one shared database. */
  readonly shared: boolean;
  latest(): { version: number; hash: string };
  /** Follower: brings this node's model store up to `target` (at least), in order; returns the versions it gained. */
  follow(target: number): Promise<Array<{ version: number }>>;
  /** The leader's commit fence (round/commit.ts). */
  fence: CommitFence;
  /** A node that just won the lease takes over; returns the round counter and committed training rounds to go on from. Throws to give the lease up. */
  lead(token: number, leaseValue: string): Promise<{ round: number; committed: number }>;
}

/** The fleet's store adapter for this node: shared when the coordinator runs on PostgreSQL. */
export function fleetStoreAdapter(ctx: FleetStoreContext): FleetStoreAdapter {
  return ctx.database?.backend === 'postgres' ? sharedStoreAdapter(ctx) : localStoreAdapter(ctx);
}

/** Commits the leader's version into a node's own store; refuses a gap or a hash that differs from the leader's. */
export function applyVersion(store: ModelStore, v: CommittedVersion): ModelVersion {
  const latest = store.latest().version;
  if (v.version !== latest + 1) throw new RangeError(`version ${v.version} does not follow the latest local version ${latest}`);
  const committed = store.commit(v.weights, v.round, v.metrics);
  // The same weights give the same hash; anything else is a replication bug worth stopping on.
  if (committed.hash !== v.hash) throw new Error(`version ${v.version}: local hash ${committed.hash} differs from the leader's ${v.hash}`);
  return committed;
}

/**
 * Each node its own store (SQLite, or memory): the leader publishes each version's weights in
 * Redis under its lease (fencedCommit) before storing it; followers copy them into their store.
 */
export function localStoreAdapter(ctx: FleetStoreContext): FleetStoreAdapter {
  const { redis, keys, store } = ctx;
  const latest = (): { version: number; hash: string } => {
    const l = store.latest();
    return { version: l.version, hash: l.hash };
  };
  return {
    shared: false,
    latest,
    follow: (target) => catchUp({ redis, keys, numParams: ctx.numParams, store: { latest, apply: (v) => applyVersion(store, v) } }, target),
    fence: (next) => fencedCommit({ redis, keys, spec: store.spec, leaseValue: ctx.leaseValue })(next),
    async lead(_token, value) {
      const local = store.latest().version;
      const v = await seedVersion(redis, keys, value, local);
      if (v !== local) throw new Error(`Redis holds version ${v}, this node's store ${local}`);
      const round = Number((await redis.get(keys.round)) ?? 0);
      // Round numbers go on from the fleet's (Redis lost it: from the round of the latest version).
      return { round: Math.max(round, store.latest().round), committed: local };
    },
  };
}
