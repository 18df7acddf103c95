import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';

/** One audit record; `time` is added by the log. */
export interface AuditEvent {
  /** e.g. admin.tokens.create, client.enroll, client.revoke, auth.refused, round.commit. */
  action: string;
  /** Who did it: `operator`, `client:<id>`, `coordinator`, or `anonymous`. */
  actor: string;
  /** Correlation id: the HTTP request id, the handshake's socket id, or the round id. */
  requestId: string;
  outcome: 'ok' | 'refused' | 'failed';
  [key: string]: unknown;
}

export interface AuditLog {
  record(event: AuditEvent): void;
  close?(): void;
}

export const nullAuditLog: AuditLog = { record() {} };

/**
 * Append-only JSON-lines audit log (pino, synchronous writes: every record is on disk
 * before the action it describes returns). One object per line:
 * {"level":30,"time":"2026-...","action":"admin.clients.revoke","actor":"operator","requestId":"...",...}
 */
export class FileAuditLog implements AuditLog {
  private readonly dest: pino.DestinationStream & { flushSync?(): void; end?(): void };
  private readonly log: pino.Logger;

  constructor(readonly file: string) {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.dest = pino.destination({ dest: file, append: true, sync: true, mkdir: true });
    this.log = pino({ base: null, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'msg' }, this.dest);
  }

  record(event: AuditEvent): void {
    this.log.info(event);
  }

  private closed = false;

  /** Idempotent. A Coordinator never closes the audit log it was given: its owner does. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dest.end?.();
  }
}
