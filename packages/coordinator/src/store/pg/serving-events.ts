import type { ServingEvent, ServingEventLog } from '../../serving/lifecycle.js';
import { toEvent, type ServingEventRow } from '../serving-events.js';
import type { Db } from './connection.js';
import type { WriteQueue } from './write-queue.js';

/** Events kept in memory: what ServingLifecycle reads (its last 1000). */
const KEPT = 1000;

/**
 * The serving version's change log in PostgreSQL. ServingLifecycle reads and appends
 * synchronously, so the newest events are loaded at open and answered from memory; appends
 * are written in order by the store's write queue (flushed before the store closes). The
 * database gives each event its id (a sequence, migration 4): the nodes of a fleet share the
 * database and each appends its own serving changes. An appended event carries this node's
 * next id at once, replaced by the database's when the insert returns (the same number unless
 * another node appended meanwhile).
 */
export class PgServingEvents implements ServingEventLog {
  private constructor(
    private readonly db: Db,
    private readonly queue: WriteQueue,
    private readonly events: ServingEvent[],
    private lastId: number,
  ) {}

  static async load(db: Db, queue: WriteQueue): Promise<PgServingEvents> {
    const rows = await db.rows<ServingEventRow>('SELECT * FROM serving_events ORDER BY id DESC LIMIT $1', [KEPT]);
    const events = rows.reverse().map(toEvent);
    return new PgServingEvents(db, queue, events, events.at(-1)?.id ?? 0);
  }

  append(e: ServingEvent): ServingEvent {
    const stored = { ...e, id: ++this.lastId };
    this.events.push(stored);
    if (this.events.length > KEPT) this.events.shift();
    this.queue.push(async () => {
      const rows = await this.db.rows<{ id: number }>('INSERT INTO serving_events (at, action, version, serving, stack, policy, actor, reason, metrics) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id', [
        e.at,
        e.action,
        e.version,
        e.serving,
        JSON.stringify(e.stack),
        e.policy,
        e.actor,
        e.reason,
        JSON.stringify(e.metrics),
      ]);
      stored.id = rows[0]!.id;
      this.lastId = Math.max(this.lastId, stored.id);
    });
    return stored;
  }

  last(): ServingEvent | undefined {
    return this.events.at(-1);
  }

  recent(limit: number): ServingEvent[] {
    return this.events.slice(-limit).reverse();
  }
}
