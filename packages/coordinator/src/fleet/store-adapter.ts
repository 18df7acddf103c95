import type { ModelStore, ModelVersion } from '../model-store.js';

/** A version the leader committed, as a follower applies it. */
export interface CommittedVersion {
  version: number;
  hash: string;
  round: number;
  weights: Float32Array;
  metrics: Record<string, number>;
}

/**
 * Every durable-state call of the fleet goes through this adapter, so the backend can change
 * (SQLite per node today; a shared PostgreSQL store later) without touching the fleet code.
 */
export interface FleetStoreAdapter {
  latest(): { version: number; hash: string };
  /** Commits the leader's version here; refuses a gap or a hash that differs from the leader's. */
  apply(v: CommittedVersion): ModelVersion;
}

export function modelStoreAdapter(store: ModelStore): FleetStoreAdapter {
  return {
    latest: () => {
      const l = store.latest();
      return { version: l.version, hash: l.hash };
    },
    apply: (v) => {
      const latest = store.latest().version;
      if (v.version !== latest + 1) throw new RangeError(`version ${v.version} does not follow the latest local version ${latest}`);
      const committed = store.commit(v.weights, v.round, v.metrics);
      // The same weights give the same hash; anything else is a replication bug worth stopping on.
      if (committed.hash !== v.hash) throw new Error(`version ${v.version}: local hash ${committed.hash} differs from the leader's ${v.hash}`);
      return committed;
    },
  };
}
