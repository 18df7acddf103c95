import { FlockError } from '@flock/protocol';
import type { ModelVersion } from '../model-store.js';
import { hasPersistentState } from '../store/strategy-state.js';
import type { PgFederationStore } from '../store/pg/database.js';
import type { FleetStoreAdapter, FleetStoreContext } from './store-adapter.js';

/**
 * Sets Redis's version counter to a committed version and announces it on the versions stream
 * (followers then read the weights from PostgreSQL). KEYS: version, versions. ARGV: version, hash.
 * Never moves the counter back.
 */
const ANNOUNCE = `local cur = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', '1000', '*', 'version', ARGV[1], 'hash', ARGV[2])
return 1`;

/** Raises Redis's fencing-token counter to at least ARGV[1] (after Redis lost it). KEYS: fence. */
const RAISE_FENCE = `local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1`;

/**
 * Every node of the fleet on ONE PostgreSQL database (docs/explanation/fleet.md): the leader
 * writes round rows and the commit transaction, fenced by its lease token (the federation row
 * keeps the highest token seen and refuses a smaller one: a deposed leader never writes);
 * followers only read: they learn a new version from Redis's announcement (or a round's plan)
 * and load its weights from PostgreSQL. No weights travel through Redis.
 */
export function sharedStoreAdapter(ctx: FleetStoreContext): FleetStoreAdapter {
  const db = ctx.database as PgFederationStore;
  const { redis, keys, logger } = ctx;
  const tokenOf = (value: string | undefined): number | undefined => (value === undefined ? undefined : Number(value.split(':')[0]));
  // Round starts and commits carry the lease's token from now on (store/pg/fence.ts).
  db.fenceWith(() => tokenOf(ctx.leaseValue()));
  const announce = async (v: { version: number; hash: string }): Promise<void> => {
    try {
      await redis.eval(ANNOUNCE, 2, keys.version, keys.versions, String(v.version), v.hash);
    } catch (err) {
      // Committed in PostgreSQL already: followers catch up at the next announcement or round.
      logger.warn({ err: (err as Error).message, version: v.version }, 'fleet: cannot announce the committed version in Redis; followers will load it later');
    }
  };
  return {
    shared: true,
    latest: () => {
      const l = db.models.latest();
      return { version: l.version, hash: l.hash };
    },
    follow: async () => {
      const gained = await db.models.refresh();
      // The committed strategy state too: a follower's /metrics and dashboard then show the
      // fleet's epsilon (the accountant as of the newest version), not an accountant that never ran.
      if (gained.length > 0 && hasPersistentState(ctx.strategy)) {
        await db.state.restore(ctx.strategy).catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'fleet: cannot load the committed strategy state; this node\'s privacy figures may lag'));
      }
      return gained;
    },
    fence: async (next) => {
      if (ctx.leaseValue() === undefined) throw new FlockError('ROUND_ABANDONED', 'this node lost the fleet lease before the round could commit', { reason: 'lease-lost' });
      // A version committed that this node did not see (a commit whose reply a connection loss
      // swallowed): the round trained on an older model and must not commit on top of it.
      const missed = await db.models.refresh();
      if (missed.length > 0 || db.models.latest().version !== next.trained) {
        throw new FlockError('ROUND_ABANDONED', `the database holds version ${db.models.latest().version}; the round trained ${next.trained}`, { reason: 'version-conflict' });
      }
      return (v: ModelVersion) => announce(v);
    },
    async lead(token) {
      const reason = new FlockError('ROUND_ABANDONED', 'the fleet leader changed while the round was running', { reason: 'coordinator-restarted' }).toEnvelope();
      let claim;
      try {
        claim = await db.claimFence(token, reason);
      } catch (err) {
        const d = (err as FlockError).details as { fenced?: boolean; fenceToken?: number } | undefined;
        // Redis lost its token counter (a restart without persistence) while PostgreSQL kept the
        // highest token: raise the counter past it; the next acquisition gets a larger token.
        if (d?.fenced && typeof d.fenceToken === 'number') await redis.eval(RAISE_FENCE, 1, keys.fence, String(d.fenceToken));
        throw err;
      }
      for (const round of claim.abandoned) logger.warn({ round, reason: reason.details }, 'round abandoned: the fleet leader changed while it was running; a fresh round will run');
      await db.models.refresh();
      // Optimizer moments, the privacy ledger: as the previous leader committed them.
      await db.state.restore(ctx.strategy);
      await announce(db.models.latest());
      return { round: claim.lastRound, committed: claim.committed };
    },
  };
}
