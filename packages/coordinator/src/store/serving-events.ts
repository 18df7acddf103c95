import type { Sqlite } from './sqlite.js';
import type { ServingEvent, ServingEventLog } from '../serving/lifecycle.js';

/** The serving version's change log in the coordinator database (table serving_events). */
export class SqliteServingEvents implements ServingEventLog {
  constructor(private readonly db: Sqlite) {}

  append(e: ServingEvent): ServingEvent {
    const info = this.db
      .prepare('INSERT INTO serving_events (at, action, version, serving, stack, policy, actor, reason, metrics) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(e.at, e.action, e.version, e.serving, JSON.stringify(e.stack), e.policy, e.actor, e.reason, JSON.stringify(e.metrics));
    return { ...e, id: Number(info.lastInsertRowid) };
  }

  last(): ServingEvent | undefined {
    const r = this.db.prepare('SELECT * FROM serving_events ORDER BY id DESC LIMIT 1').get() as ServingEventRow | undefined;
    return r ? toEvent(r) : undefined;
  }

  recent(limit: number): ServingEvent[] {
    return (this.db.prepare('SELECT * FROM serving_events ORDER BY id DESC LIMIT ?').all(limit) as ServingEventRow[]).map(toEvent);
  }
}

export interface ServingEventRow {
  id: number;
  at: string;
  action: ServingEvent['action'];
  version: number;
  serving: number;
  stack: string;
  policy: string;
  actor: string;
  reason: string;
  metrics: string;
}

export function toEvent(r: ServingEventRow): ServingEvent {
  return { id: r.id, at: r.at, action: r.action, version: r.version, serving: r.serving, stack: JSON.parse(r.stack) as number[], policy: r.policy, actor: r.actor, reason: r.reason, metrics: JSON.parse(r.metrics) as Record<string, number> };
}
