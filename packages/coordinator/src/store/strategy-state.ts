import type { Strategy } from '../strategy.js';
import type { LedgerEntry } from '../strategies/differential-privacy.js';
import type { Sqlite } from './sqlite.js';

/** A strategy with state to persist: server-optimizer moments, the DP accountant and ledger... */
export interface PersistentStrategy extends Strategy {
  state(): unknown;
  restoreState(state: unknown): void;
}

export function hasPersistentState(s: Strategy): s is PersistentStrategy {
  const p = s as Partial<PersistentStrategy>;
  return typeof p.state === 'function' && typeof p.restoreState === 'function';
}

/** Strategies that keep a per-client privacy ledger (DifferentiallyPrivate). */
export function ledgerOf(s: Strategy): Array<{ clientId: string } & LedgerEntry> | undefined {
  const l = (s as { ledgerEntries?: () => Array<{ clientId: string } & LedgerEntry> }).ledgerEntries;
  return typeof l === 'function' ? l.call(s) : undefined;
}

/**
 * Strategy state (table `strategy_state`, one row: the JSON of `strategy.state()`) and the
 * privacy ledger (table `privacy_ledger`, one row per client, a queryable copy of what the
 * DP strategy's state holds). Both are written inside the round-commit transaction.
 */
export class StrategyStateStore {
  constructor(private readonly db: Sqlite) {}

  /** Saves what `strategy` has to persist (nothing for stateless strategies). Call inside the commit transaction. */
  save(strategy: Strategy, modelVersion: number, at = new Date().toISOString()): void {
    if (hasPersistentState(strategy)) {
      this.db
        .prepare('INSERT INTO strategy_state (id, strategy, state, model_version, updated_at) VALUES (1, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET strategy = excluded.strategy, state = excluded.state, model_version = excluded.model_version, updated_at = excluded.updated_at')
        .run(strategy.name, JSON.stringify(strategy.state()), modelVersion, at);
    }
    const ledger = ledgerOf(strategy);
    if (ledger) {
      const upsert = this.db.prepare('INSERT INTO privacy_ledger (client_id, rounds, epsilon, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(client_id) DO UPDATE SET rounds = excluded.rounds, epsilon = excluded.epsilon, updated_at = excluded.updated_at WHERE rounds != excluded.rounds OR epsilon != excluded.epsilon');
      for (const e of ledger) upsert.run(e.clientId, e.rounds, e.epsilon, at);
    }
  }

  /** The saved state, if any. */
  load(): { strategy: string; state: unknown; modelVersion: number; updatedAt: string } | undefined {
    const row = this.db.prepare('SELECT strategy, state, model_version, updated_at FROM strategy_state WHERE id = 1').get() as
      | { strategy: string; state: string; model_version: number; updated_at: string }
      | undefined;
    return row && { strategy: row.strategy, state: JSON.parse(row.state) as unknown, modelVersion: row.model_version, updatedAt: row.updated_at };
  }

  /**
   * Restores the saved state into `strategy` (after a restart). Returns false when nothing
   * was saved. A saved state of another strategy is refused (the strategy's own restoreState
   * decides what "another" means and throws STRATEGY_INVALID): silently starting over would
   * reset optimizer moments, or worse, a privacy ledger.
   */
  restore(strategy: Strategy): boolean {
    const saved = this.load();
    if (!saved) return false;
    if (!hasPersistentState(strategy)) {
      throw new TypeError(`the database holds state of strategy '${saved.strategy}', but strategy '${strategy.name}' keeps none; start it with the same strategy or use another database`);
    }
    strategy.restoreState(saved.state);
    return true;
  }

  ledger(): Array<{ clientId: string } & LedgerEntry> {
    return (this.db.prepare('SELECT client_id AS clientId, rounds, epsilon FROM privacy_ledger ORDER BY client_id').all() as Array<{ clientId: string } & LedgerEntry>).map((r) => ({ ...r }));
  }
}
