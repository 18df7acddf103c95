import { FlockError, type ErrorEnvelope } from '@flock/protocol';
import { fromJson, toJson, type Sqlite } from './sqlite.js';
import type { RoundLogStore } from './types.js';

export type RoundStatus = 'running' | 'committed' | 'abandoned' | 'completed';

/** One row of the `rounds` table. */
export interface RoundRecord {
  round: number;
  roundId: string;
  kind: 'train' | 'evaluate';
  status: RoundStatus;
  /** The model version the round trained or evaluated. */
  modelVersion: number;
  /** The version the round produced (committed training rounds only). */
  committedVersion: number | null;
  cohort: string[];
  reporters: string[] | undefined;
  metrics: Record<string, number> | undefined;
  reason: ErrorEnvelope | undefined;
  startedAt: string;
  endedAt: string | null;
}

/** A `rounds` row as both backends return it. */
export interface RoundRow {
  round: number;
  round_id: string;
  kind: 'train' | 'evaluate';
  status: RoundStatus;
  model_version: number;
  committed_version: number | null;
  cohort: string;
  reporters: string | null;
  metrics: string | null;
  reason: string | null;
  started_at: string;
  ended_at: string | null;
}

export function toRecord(r: RoundRow): RoundRecord {
  return {
    round: r.round,
    roundId: r.round_id,
    kind: r.kind,
    status: r.status,
    modelVersion: r.model_version,
    committedVersion: r.committed_version,
    cohort: JSON.parse(r.cohort) as string[],
    reporters: fromJson(r.reporters),
    metrics: fromJson(r.metrics),
    reason: fromJson(r.reason),
    startedAt: r.started_at,
    endedAt: r.ended_at,
  };
}

/** STORE_CONFLICT: a round ends exactly once (both backends throw this). */
export function notRunning(round: number, status: RoundStatus | undefined): FlockError {
  return new FlockError('STORE_CONFLICT', `round ${round} is not running (${status ?? 'not recorded'}); a round ends exactly once`, { round, status: status ?? null });
}

/** The round log (table `rounds`): every round is recorded `running` before round:start goes out. */
export class RoundLog implements RoundLogStore {
  constructor(private readonly db: Sqlite) {}

  /** Records a round as running (before its round:start is sent). */
  start(r: { round: number; roundId: string; kind: 'train' | 'evaluate'; modelVersion: number; cohort: readonly string[]; startedAt: string }): void {
    if (!r || typeof r !== 'object') throw new TypeError('round must be an object');
    if (!Number.isSafeInteger(r.round) || r.round < 1) throw new RangeError(`round.round must be a positive integer; got ${String(r.round)}`);
    if (typeof r.roundId !== 'string' || r.roundId.length === 0) throw new TypeError('round.roundId must be a non-empty string');
    if (r.kind !== 'train' && r.kind !== 'evaluate') throw new RangeError(`round.kind must be 'train' or 'evaluate'; got ${String(r.kind)}`);
    if (!Array.isArray(r.cohort)) throw new TypeError('round.cohort must be an array of client ids');
    this.db
      .prepare("INSERT INTO rounds (round, round_id, kind, status, model_version, cohort, started_at) VALUES (?, ?, ?, 'running', ?, ?, ?)")
      .run(r.round, r.roundId, r.kind, r.modelVersion, JSON.stringify([...r.cohort]), r.startedAt);
  }

  /**
   * Ends a running round. Throws if the round is not running (already ended, or never
   * recorded), so a round can only end once; inside a commit transaction that rolls the
   * whole commit back.
   */
  finish(round: number, end: { status: Exclude<RoundStatus, 'running'>; committedVersion?: number; reporters?: readonly string[]; metrics?: Record<string, number>; reason?: ErrorEnvelope; endedAt?: string }): void {
    const r = this.db
      .prepare("UPDATE rounds SET status = ?, committed_version = ?, reporters = ?, metrics = ?, reason = ?, ended_at = ? WHERE round = ? AND status = 'running'")
      .run(end.status, end.committedVersion ?? null, toJson(end.reporters ? [...end.reporters] : undefined), toJson(end.metrics), toJson(end.reason), end.endedAt ?? new Date().toISOString(), round);
    if (r.changes !== 1) throw notRunning(round, (this.db.prepare('SELECT status FROM rounds WHERE round = ?').get(round) as { status: RoundStatus } | undefined)?.status);
  }

  /** Marks every running round abandoned with `reason`; returns the rounds it changed. */
  abandonRunning(reason: ErrorEnvelope, at = new Date().toISOString()): RoundRecord[] {
    return this.db
      .transaction(() => {
        const running = (this.db.prepare("SELECT * FROM rounds WHERE status = 'running' ORDER BY round").all() as RoundRow[]).map(toRecord);
        this.db.prepare("UPDATE rounds SET status = 'abandoned', reason = ?, ended_at = ? WHERE status = 'running'").run(JSON.stringify(reason), at);
        return running;
      })
      .immediate();
  }

  get(round: number): RoundRecord | undefined {
    const row = this.db.prepare('SELECT * FROM rounds WHERE round = ?').get(round) as RoundRow | undefined;
    return row && toRecord(row);
  }

  byId(roundId: string): RoundRecord | undefined {
    const row = this.db.prepare('SELECT * FROM rounds WHERE round_id = ?').get(roundId) as RoundRow | undefined;
    return row && toRecord(row);
  }

  /** The last `limit` rounds, oldest first. */
  recent(limit = 100): RoundRecord[] {
    return (this.db.prepare('SELECT * FROM (SELECT * FROM rounds ORDER BY round DESC LIMIT ?) ORDER BY round').all(limit) as RoundRow[]).map(toRecord);
  }

  all(): RoundRecord[] {
    return (this.db.prepare('SELECT * FROM rounds ORDER BY round').all() as RoundRow[]).map(toRecord);
  }

  /** Highest round number used so far (0 if none). */
  lastRound(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(round), 0) AS n FROM rounds').get() as { n: number }).n;
  }

  /** Committed training rounds. */
  committedCount(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM rounds WHERE status = 'committed'").get() as { n: number }).n;
  }
}
