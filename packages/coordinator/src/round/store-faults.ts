import { FlockError, type ErrorEnvelope } from '@flock/protocol';
import type { Logger } from '../logger.js';
import type { RoundStatus } from '../store/rounds.js';
import type { FederationStore } from '../store/types.js';

/**
 * Store failures a round survives (docs/explanation/fleet.md, PostgreSQL restart): the database
 * is unreachable (STORE_UNAVAILABLE), a fleet node's write was fenced off (ROUND_ABANDONED,
 * details.fenced: a newer leader claimed the store), or the round row was ended by someone else
 * (STORE_CONFLICT). The round they hit is abandoned with that reason; the loop goes on.
 */
export function isStoreFault(err: unknown): err is FlockError {
  if (!(err instanceof FlockError)) return false;
  return err.code === 'STORE_UNAVAILABLE' || err.code === 'STORE_CONFLICT' || (err.code === 'ROUND_ABANDONED' && (err.details as { fenced?: unknown } | undefined)?.fenced === true);
}

type Finish = { status: Exclude<RoundStatus, 'running'>; reporters?: readonly string[]; metrics?: Record<string, number>; reason?: ErrorEnvelope };

/**
 * Round rows that could not be ended because the database was unreachable: ended as soon as it
 * answers again (before the next round starts), so no row stays `running` once the store is back.
 */
export class UnfinishedRounds {
  private readonly pending = new Map<number, Finish & { endedAt: string }>();

  constructor(
    private readonly database: FederationStore | undefined,
    private readonly logger: Logger,
  ) {}

  /** Ends a round row; an outage keeps it for {@link retry}; a conflict (ended elsewhere) is logged. */
  async finish(round: number, end: Finish): Promise<void> {
    if (!this.database) return;
    const e = { ...end, endedAt: new Date().toISOString() };
    try {
      await this.database.rounds.finish(round, e);
    } catch (err) {
      if (!isStoreFault(err)) throw err;
      if (err.code === 'STORE_UNAVAILABLE') this.pending.set(round, e);
      this.logger.warn({ round, code: err.code, err: err.message }, err.code === 'STORE_UNAVAILABLE' ? 'round row not ended: the database is unavailable; ending it once it is back' : 'round row already ended elsewhere');
    }
  }

  /** Keeps a row to end at the next {@link retry} (a row that may or may not have been written). */
  keep(round: number, end: Finish): void {
    if (this.database) this.pending.set(round, { ...end, endedAt: new Date().toISOString() });
  }

  /** Ends the rows kept by an outage; throws STORE_UNAVAILABLE while the database is still away. */
  async retry(): Promise<void> {
    for (const [round, e] of [...this.pending]) {
      try {
        await this.database!.rounds.finish(round, e);
      } catch (err) {
        if (!isStoreFault(err) || err.code === 'STORE_UNAVAILABLE') throw err;
      }
      this.pending.delete(round);
    }
  }
}
