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
  /** The highest id read back from the database (refresh() reads what lies above it). */
  private seen: number;
  /** Ids of this node's own events not yet below `seen`. */
  private readonly own = new Set<number>();

  private constructor(
    private readonly db: Db,
    private readonly queue: WriteQueue,
    private readonly events: ServingEvent[],
    private lastId: number,
  ) {
    this.seen = lastId;
  }

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
      this.own.add(stored.id);
    });
    return stored;
  }

  /** Events other coordinators on this database appended since the last call (after this node's own writes are done), in id order. */
  async refresh(): Promise<ServingEvent[]> {
    await this.queue.idle();
    const rows = await this.db.rows<ServingEventRow>('SELECT * FROM serving_events WHERE id > $1 ORDER BY id', [this.seen]);
    const foreign = rows.map(toEvent).filter((e) => !this.own.has(e.id!));
    for (const r of rows) this.seen = Math.max(this.seen, Number(r.id));
    for (const id of this.own) if (id <= this.seen) this.own.delete(id);
    if (foreign.length > 0) {
      this.events.push(...foreign);
      this.events.sort((x, y) => x.id! - y.id!);
      if (this.events.length > KEPT) this.events.splice(0, this.events.length - KEPT);
    }
    return foreign;
  }

  last(): ServingEvent | undefined {
    return this.events.at(-1);
  }

  recent(limit: number): ServingEvent[] {
    return this.events.slice(-limit).reverse();
  }
}
