import { EventEmitter } from 'node:events';
import { FlockError } from '@flock/protocol';
import type { ModelStore } from '../model-store.js';
import type { AuditLog } from '../admin/audit.js';
import type { ServingSettings } from './settings.js';

/**
 * One change (or refusal) of the serving version. `version` is the version the event is about
 * (promoted, rolled back from, held back); `serving` the serving version after it; `stack` the
 * rollback stack after it (the last entry is `serving`).
 */
export interface ServingEvent {
  id?: number;
  at: string;
  action: 'initial' | 'promote' | 'rollback' | 'hold';
  version: number;
  serving: number;
  stack: number[];
  policy: string;
  /** `operator`, `coordinator` (policy) or `startup`. */
  actor: string;
  reason: string;
  /** The metrics the decision looked at (evaluated policy), else {}. */
  metrics: Record<string, number>;
}

/** Where serving events are kept: the database's serving_events table, or memory. */
export interface ServingEventLog {
  append(e: ServingEvent): ServingEvent;
  last(): ServingEvent | undefined;
  /** Newest first. */
  recent(limit: number): ServingEvent[];
  /**
   * A log that other coordinators append to as well (the fleet's shared database): reads the
   * events they appended since the last call, adds them in order, and returns them.
   */
  refresh?(): Promise<ServingEvent[]>;
}

export class MemoryServingEvents implements ServingEventLog {
  private readonly events: ServingEvent[] = [];

  append(e: ServingEvent): ServingEvent {
    const stored = { ...e, id: this.events.length + 1 };
    this.events.push(stored);
    if (this.events.length > 10_000) this.events.shift();
    return stored;
  }

  last(): ServingEvent | undefined {
    return this.events[this.events.length - 1];
  }

  recent(limit: number): ServingEvent[] {
    return this.events.slice(-limit).reverse();
  }
}

const MAX_STACK = 100;

/**
 * The serving version, distinct from the latest: `latest` moves with every commit, `serving`
 * only by policy (always / manual / evaluated) or the operator (promote, roll back). Every
 * change is appended to the event log (durable with a database) and the audit log.
 *
 * Events: 'change' (ServingEvent), for every appended event.
 */
export class ServingLifecycle extends EventEmitter {
  private stack: number[];
  /** Versions the operator rolled back from: the evaluated policy never promotes them again. */
  private readonly rolledBack = new Set<number>();
  /** Another node's serving change to adopt once this node holds its version (fleet, follow()). */
  private adopting: ServingEvent | undefined;

  constructor(
    private readonly o: { store: ModelStore; log: ServingEventLog; settings: ServingSettings; audit: AuditLog },
  ) {
    super();
    const last = o.log.last();
    for (const e of o.log.recent(1000)) if (e.action === 'rollback') this.rolledBack.add(e.version);
    if (last) this.stack = last.stack.slice();
    else {
      const v = o.store.latest().version;
      this.stack = [v];
      this.append({ action: 'initial', version: v, actor: 'startup', reason: 'first start: the latest version is served', metrics: {} });
    }
    // `always`: whatever the log says, the latest version is served.
    if (o.settings.policy === 'always' && this.serving !== o.store.latest().version) this.promote(o.store.latest().version, 'startup', 'policy always: the latest version at start-up');
  }

  get serving(): number {
    return this.stack[this.stack.length - 1]!;
  }

  get policy(): ServingSettings['policy'] {
    return this.o.settings.policy;
  }

  /** Versions a rollback would return to, newest first. */
  get rollbackStack(): number[] {
    return this.stack.slice(0, -1).reverse();
  }

  recent(limit = 50): ServingEvent[] {
    return this.o.log.recent(limit);
  }

  private append(e: Omit<ServingEvent, 'at' | 'serving' | 'stack' | 'policy'>): ServingEvent {
    this.adopting = undefined; // this node's own change is newer
    const event = this.o.log.append({ at: new Date().toISOString(), serving: this.serving, stack: this.stack.slice(), policy: this.o.settings.policy, ...e });
    this.o.audit.record({ action: `serving.${e.action}`, actor: e.actor, requestId: `serving-${event.id ?? 0}`, outcome: e.action === 'hold' ? 'refused' : 'ok', version: e.version, serving: event.serving, policy: event.policy, reason: e.reason });
    this.emit('change', event);
    return event;
  }

  /** Makes `version` the serving version (operator or policy). MODEL_NOT_FOUND if it is not downloadable. */
  promote(version: number, actor: string, reason: string, metrics: Record<string, number> = {}): ServingEvent {
    if (!Number.isSafeInteger(version) || version < 0) throw new RangeError(`version must be a non-negative integer; got ${String(version)}`);
    if (!this.o.store.get(version)) throw new FlockError('MODEL_NOT_FOUND', `model version ${version} does not exist or is no longer kept (latest is ${this.o.store.latest().version})`);
    if (actor === 'operator') this.rolledBack.delete(version);
    this.stack.push(version);
    if (this.stack.length > MAX_STACK) this.stack.splice(0, this.stack.length - MAX_STACK);
    return this.append({ action: 'promote', version, actor, reason, metrics });
  }

  /** Returns to the previous serving version still kept. NOT_FOUND if there is none. */
  rollback(actor: string, reason: string): ServingEvent {
    const from = this.serving;
    let i = this.stack.length - 2;
    while (i >= 0 && (this.stack[i] === from || !this.o.store.get(this.stack[i]!))) i--;
    if (i < 0) throw new FlockError('NOT_FOUND', `no earlier serving version to roll back to (serving ${from})`);
    this.stack.length = i + 1;
    this.rolledBack.add(from);
    return this.append({ action: 'rollback', version: from, actor, reason, metrics: {} });
  }

  /**
   * Adopts the serving changes other nodes of a fleet appended to the shared log (an operator's
   * promote or rollback on another node, that node's policy): the newest event of the log, by
   * the database's order, is the fleet's serving state. Returns true if this node's changed.
   */
  async follow(): Promise<boolean> {
    const foreign = (await this.o.log.refresh?.()) ?? [];
    for (const e of foreign) {
      if (e.action === 'rollback') this.rolledBack.add(e.version);
      else if (e.action === 'promote' && e.actor === 'operator') this.rolledBack.delete(e.version);
    }
    if (foreign.length > 0) {
      // The newest event of the log is the fleet's state; if it is this node's own, it stands.
      const newest = this.o.log.last();
      this.adopting = newest && foreign.includes(newest) ? newest : undefined;
    }
    const e = this.adopting;
    // A version this node has not followed yet is adopted once it holds it (a later call).
    if (!e || !this.o.store.get(e.serving)) return false;
    this.adopting = undefined;
    if (e.stack.length === this.stack.length && e.stack.every((v, i) => v === this.stack[i])) return false;
    this.stack = e.stack.slice();
    this.emit('change', e);
    return true;
  }

  /** A training round committed version `version`. */
  committed(version: number): void {
    if (this.policy === 'always') this.promote(version, 'coordinator', 'policy always: a training round committed it');
    else if (this.policy === 'evaluated') this.consider(version);
  }

  /** Version `version` got new evaluation metrics (federated or server-side). */
  evaluated(version: number): void {
    if (this.policy === 'evaluated') this.consider(version);
  }

  /** The evaluated policy: promote when the metric is not worse than the serving version's by more than the tolerance. */
  private consider(version: number): void {
    const { metric, tolerance } = this.o.settings;
    if (version <= this.serving || this.rolledBack.has(version)) return;
    const candidate = this.o.store.get(version)?.metrics[metric];
    if (candidate === undefined || !Number.isFinite(candidate)) return;
    const current = this.o.store.get(this.serving)?.metrics[metric];
    const lowerIsBetter = /loss/i.test(metric);
    const metrics: Record<string, number> = { candidate, ...(current !== undefined ? { serving: current } : {}), tolerance };
    if (current === undefined || !Number.isFinite(current)) {
      this.promote(version, 'coordinator', `policy evaluated: ${metric} ${candidate} (the serving version has none)`, metrics);
      return;
    }
    const ok = lowerIsBetter ? candidate <= current + tolerance : candidate >= current - tolerance;
    if (ok) this.promote(version, 'coordinator', `policy evaluated: ${metric} ${candidate} vs ${current} (tolerance ${tolerance})`, metrics);
    else this.append({ action: 'hold', version, actor: 'coordinator', reason: `policy evaluated: ${metric} ${candidate} is worse than the serving version's ${current} by more than ${tolerance}`, metrics });
  }
}
