import { EventEmitter } from 'node:events';
import type { AuditEvent, AuditLog } from './audit.js';

/**
 * An audit log that also keeps its last records in memory (for the dashboard) and emits
 * 'record' for each; everything is passed on to the wrapped log unchanged.
 */
export class RecentAuditLog extends EventEmitter implements AuditLog {
  private readonly recent: Array<AuditEvent & { time: string }> = [];

  constructor(
    private readonly inner: AuditLog,
    private readonly keep = 200,
  ) {
    super();
  }

  record(event: AuditEvent): void {
    this.inner.record(event);
    const e = { time: new Date().toISOString(), ...event };
    this.recent.push(e);
    if (this.recent.length > this.keep) this.recent.shift();
    this.emit('record', e);
  }

  /** Newest first. */
  last(n = 50): Array<AuditEvent & { time: string }> {
    return this.recent.slice(-n).reverse();
  }

  close(): void {
    // The owner of the wrapped log closes it (a Coordinator never closes the log it was given).
  }
}
