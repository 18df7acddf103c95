import type { PoolClient } from 'pg';
import type { LedgerEntry } from '../../strategies/differential-privacy.js';
import type { Strategy } from '../../strategy.js';
import { hasPersistentState, ledgerOf } from '../strategy-state.js';
import type { StrategyStateReader, UploadKeyStore } from '../types.js';
import type { Db } from './connection.js';

/** What a commit saves of a strategy, captured synchronously before the transaction starts. */
export interface StrategySnapshot {
  name: string;
  state: string | undefined;
  ledger: Array<{ clientId: string } & LedgerEntry> | undefined;
}

export function snapshotOf(strategy: Strategy): StrategySnapshot {
  return { name: strategy.name, state: hasPersistentState(strategy) ? JSON.stringify(strategy.state()) : undefined, ledger: ledgerOf(strategy)?.map((e) => ({ ...e })) };
}

/** Writes a strategy snapshot inside the commit transaction (the ledger in one statement). */
export async function saveSnapshot(c: PoolClient, s: StrategySnapshot, modelVersion: number, at: string): Promise<void> {
  if (s.state !== undefined) {
    await c.query(
      'INSERT INTO strategy_state (id, strategy, state, model_version, updated_at) VALUES (1, $1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET strategy = excluded.strategy, state = excluded.state, model_version = excluded.model_version, updated_at = excluded.updated_at',
      [s.name, s.state, modelVersion, at],
    );
  }
  if (s.ledger && s.ledger.length > 0) {
    await c.query(
      `INSERT INTO privacy_ledger (client_id, rounds, epsilon, updated_at)
       SELECT c, r, e, $4 FROM unnest($1::text[], $2::int[], $3::float8[]) AS t(c, r, e)
       ON CONFLICT (client_id) DO UPDATE SET rounds = excluded.rounds, epsilon = excluded.epsilon, updated_at = excluded.updated_at
       WHERE privacy_ledger.rounds <> excluded.rounds OR privacy_ledger.epsilon <> excluded.epsilon`,
      [s.ledger.map((e) => e.clientId), s.ledger.map((e) => e.rounds), s.ledger.map((e) => e.epsilon), at],
    );
  }
}

/** Strategy state and privacy ledger in PostgreSQL (reads; writes happen in the commit). */
export class PgStrategyState implements StrategyStateReader {
  constructor(private readonly db: Db) {}

  async load(): Promise<{ strategy: string; state: unknown; modelVersion: number; updatedAt: string } | undefined> {
    const row = (await this.db.rows<{ strategy: string; state: string; model_version: number; updated_at: string }>('SELECT strategy, state, model_version, updated_at FROM strategy_state WHERE id = 1'))[0];
    return row && { strategy: row.strategy, state: JSON.parse(row.state) as unknown, modelVersion: row.model_version, updatedAt: row.updated_at };
  }

  /** As StrategyStateStore.restore: another strategy's saved state is refused, never silently dropped. */
  async restore(strategy: Strategy): Promise<boolean> {
    const saved = await this.load();
    if (!saved) return false;
    if (!hasPersistentState(strategy)) {
      throw new TypeError(`the database holds state of strategy '${saved.strategy}', but strategy '${strategy.name}' keeps none; start it with the same strategy or use another database`);
    }
    strategy.restoreState(saved.state);
    return true;
  }

  async ledger(): Promise<Array<{ clientId: string } & LedgerEntry>> {
    return this.db.rows<{ clientId: string } & LedgerEntry>('SELECT client_id AS "clientId", rounds, epsilon FROM privacy_ledger ORDER BY client_id');
  }
}

/** Upload idempotency keys in PostgreSQL: one INSERT ... ON CONFLICT DO NOTHING per update. */
export class PgUploadKeys implements UploadKeyStore {
  constructor(private readonly db: Db) {}

  async claim(roundId: string, clientId: string, at = new Date().toISOString()): Promise<boolean> {
    if (typeof roundId !== 'string' || roundId.length === 0) throw new TypeError('roundId must be a non-empty string');
    if (typeof clientId !== 'string' || clientId.length === 0) throw new TypeError('clientId must be a non-empty string');
    return (await this.db.query('INSERT INTO uploads (round_id, client_id, received_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [roundId, clientId, at])).rowCount === 1;
  }

  async has(roundId: string, clientId: string): Promise<boolean> {
    return (await this.db.rows('SELECT 1 FROM uploads WHERE round_id = $1 AND client_id = $2', [roundId, clientId])).length > 0;
  }

  async count(roundId: string): Promise<number> {
    return (await this.db.rows<{ n: number }>('SELECT COUNT(*)::int AS n FROM uploads WHERE round_id = $1', [roundId]))[0]!.n;
  }
}
