import type { ErrorEnvelope } from '@flock/protocol';
import { toJson } from '../sqlite.js';
import { notRunning, toRecord, type RoundRecord, type RoundRow, type RoundStatus } from '../rounds.js';
import type { RoundLogStore } from '../types.js';
import type { Db } from './connection.js';
import { checkFence } from './fence.js';

type Queryable = Pick<Db, 'query'> | { query: Db['query'] };

/** The round log in PostgreSQL: the same rows and rules as the SQLite RoundLog. */
export class PgRoundLog implements RoundLogStore {
  /** `fencing`: the store's fleet fencing token, if it runs in fleet mode (fence.ts). */
  constructor(
    private readonly db: Db,
    private readonly fencing: () => (() => number | undefined) | undefined = () => undefined,
  ) {}

  async start(r: { round: number; roundId: string; kind: 'train' | 'evaluate'; modelVersion: number; cohort: readonly string[]; startedAt: string }): Promise<void> {
    if (!r || typeof r !== 'object') throw new TypeError('round must be an object');
    if (!Number.isSafeInteger(r.round) || r.round < 1) throw new RangeError(`round.round must be a positive integer; got ${String(r.round)}`);
    if (typeof r.roundId !== 'string' || r.roundId.length === 0) throw new TypeError('round.roundId must be a non-empty string');
    if (r.kind !== 'train' && r.kind !== 'evaluate') throw new RangeError(`round.kind must be 'train' or 'evaluate'; got ${String(r.kind)}`);
    if (!Array.isArray(r.cohort)) throw new TypeError('round.cohort must be an array of client ids');
    const params = [r.round, r.roundId, r.kind, r.modelVersion, JSON.stringify([...r.cohort]), r.startedAt];
    const insert = "INSERT INTO rounds (round, round_id, kind, status, model_version, cohort, started_at) VALUES ($1, $2, $3, 'running', $4, $5, $6)";
    const fencing = this.fencing();
    if (!fencing) {
      await this.db.query(insert, params);
      return;
    }
    // Fleet: only the current leader starts rounds (a deposed one would take a round number).
    await this.db.transaction(async (tx) => {
      await tx.query('SELECT id FROM federation WHERE id = 1 FOR SHARE');
      await checkFence(tx, fencing(), `start round ${r.round}`, false);
      await tx.query(insert, params);
    });
  }

  finish(round: number, end: { status: Exclude<RoundStatus, 'running'>; committedVersion?: number; reporters?: readonly string[]; metrics?: Record<string, number>; reason?: ErrorEnvelope; endedAt?: string }): Promise<void> {
    return finishRound(this.db, round, end);
  }

  async abandonRunning(reason: ErrorEnvelope, at = new Date().toISOString()): Promise<RoundRecord[]> {
    // The rows as they were (status 'running'), as SQLite's RoundLog returns them.
    const rows = await this.db.rows<RoundRow>(
      "WITH r AS (SELECT * FROM rounds WHERE status = 'running' FOR UPDATE) UPDATE rounds SET status = 'abandoned', reason = $1, ended_at = $2 FROM r WHERE rounds.round = r.round RETURNING r.*",
      [JSON.stringify(reason), at],
    );
    return rows.sort((a, b) => a.round - b.round).map(toRecord);
  }

  async get(round: number): Promise<RoundRecord | undefined> {
    const r = await this.db.rows<RoundRow>('SELECT * FROM rounds WHERE round = $1', [round]);
    return r[0] && toRecord(r[0]);
  }

  async byId(roundId: string): Promise<RoundRecord | undefined> {
    const r = await this.db.rows<RoundRow>('SELECT * FROM rounds WHERE round_id = $1', [roundId]);
    return r[0] && toRecord(r[0]);
  }

  async recent(limit = 100): Promise<RoundRecord[]> {
    return (await this.db.rows<RoundRow>('SELECT * FROM (SELECT * FROM rounds ORDER BY round DESC LIMIT $1) AS t ORDER BY round', [limit])).map(toRecord);
  }

  async all(): Promise<RoundRecord[]> {
    return (await this.db.rows<RoundRow>('SELECT * FROM rounds ORDER BY round')).map(toRecord);
  }

  async lastRound(): Promise<number> {
    return (await this.db.rows<{ n: number }>('SELECT COALESCE(MAX(round), 0)::int AS n FROM rounds'))[0]!.n;
  }

  async committedCount(): Promise<number> {
    return (await this.db.rows<{ n: number }>("SELECT COUNT(*)::int AS n FROM rounds WHERE status = 'committed'"))[0]!.n;
  }
}

/** Ends a running round (also inside the commit transaction, on its connection); STORE_CONFLICT if it is not running. */
export async function finishRound(
  db: Queryable,
  round: number,
  end: { status: Exclude<RoundStatus, 'running'>; committedVersion?: number; reporters?: readonly string[]; metrics?: Record<string, number>; reason?: ErrorEnvelope; endedAt?: string },
): Promise<void> {
  const r = await db.query(
    "UPDATE rounds SET status = $1, committed_version = $2, reporters = $3, metrics = $4, reason = $5, ended_at = $6 WHERE round = $7 AND status = 'running'",
    [end.status, end.committedVersion ?? null, toJson(end.reporters ? [...end.reporters] : undefined), toJson(end.metrics), toJson(end.reason), end.endedAt ?? new Date().toISOString(), round],
  );
  if (r.rowCount !== 1) {
    const now = await db.query('SELECT status FROM rounds WHERE round = $1', [round]);
    throw notRunning(round, (now.rows[0] as { status: RoundStatus } | undefined)?.status);
  }
}
