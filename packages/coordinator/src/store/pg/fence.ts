import type { PoolClient } from 'pg';
import { FlockError, type ErrorEnvelope } from '@flock/protocol';
import type { Db } from './connection.js';

/** Where a new fleet leader goes on from (PgFederationStore.claimFence). */
export interface FenceClaim {
  /** The highest fencing token before this claim. */
  previous: number;
  /** Rounds found running and abandoned (an earlier leader's). */
  abandoned: number[];
  /** The last round number used, and the committed training rounds. */
  lastRound: number;
  committed: number;
}

/**
 * The typed refusal of a fenced write: ROUND_ABANDONED with details.reason 'lease-lost' (the
 * round's outcome as the fleet reports it; no new wire code, protocol/v1.md 13), details.fenced
 * true, the write's token and the highest the database has seen.
 */
export function fenced(what: string, token: number | undefined, seen: number): FlockError {
  return new FlockError(
    'ROUND_ABANDONED',
    token === undefined
      ? `cannot ${what}: this fleet node does not hold the leader lease`
      : `cannot ${what}: fencing token ${token} is older than ${seen}, claimed by a newer fleet leader; this node was deposed`,
    { reason: 'lease-lost', fenced: true, ...(token !== undefined ? { token } : {}), fenceToken: seen },
  );
}

/**
 * Inside a transaction that holds the federation row locked: refuses ({@link fenced}) a write
 * whose fencing token is missing or smaller than the highest the row has seen; `raise` records
 * the token as the highest (the commit transaction does).
 */
export async function checkFence(tx: PoolClient, token: number | undefined, what: string, raise: boolean): Promise<void> {
  const seen = Number((await tx.query<{ t: string }>('SELECT fence_token::text AS t FROM federation WHERE id = 1')).rows[0]?.t ?? 0);
  if (token === undefined || !Number.isSafeInteger(token) || token < seen) throw fenced(what, token, seen);
  if (raise && token > seen) await tx.query('UPDATE federation SET fence_token = $1 WHERE id = 1', [token]);
}

/** See PgFederationStore.claimFence. */
export async function claimFence(db: Db, token: number, reason: ErrorEnvelope): Promise<FenceClaim> {
  if (!Number.isSafeInteger(token) || token < 1) throw new RangeError(`token must be a positive integer; got ${String(token)}`);
  return db.transaction(async (tx) => {
    const row = (await tx.query<{ t: string }>('SELECT fence_token::text AS t FROM federation WHERE id = 1 FOR UPDATE')).rows[0];
    if (!row) throw new RangeError('the database holds no federation yet; open the models first');
    const previous = Number(row.t);
    if (token < previous) throw fenced('lead', token, previous);
    await tx.query('UPDATE federation SET fence_token = $1 WHERE id = 1', [token]);
    const abandoned = await tx.query<{ round: number }>("UPDATE rounds SET status = 'abandoned', reason = $1, ended_at = $2 WHERE status = 'running' RETURNING round", [
      JSON.stringify(reason),
      new Date().toISOString(),
    ]);
    const n = (await tx.query<{ last: number; committed: number }>("SELECT COALESCE(MAX(round), 0)::int AS last, COUNT(*) FILTER (WHERE status = 'committed')::int AS committed FROM rounds")).rows[0]!;
    return { previous, abandoned: abandoned.rows.map((r) => r.round).sort((a, b) => a - b), lastRound: n.last, committed: n.committed };
  });
}
