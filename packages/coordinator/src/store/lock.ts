import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { FlockError } from '@flock/protocol';
import Database from 'better-sqlite3';
import type { Sqlite } from './sqlite.js';

/** Who holds a coordinator lock (written beside the lock for the refusal message; informative only). */
export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
}

/**
 * One running coordinator per database. Two coordinators on one file both "resume" it and
 * the first later dies on a UNIQUE constraint of the round log, so the second must be
 * refused at start-up.
 *
 * The lock is an exclusive SQLite lock on a sidecar file `<db>-coordinator.lock`, held by a
 * connection in EXCLUSIVE locking mode for the coordinator's lifetime. The operating system
 * releases it when the process dies (kill -9 included), so a crash never leaves a stale lock
 * behind, and SQLite's unix VFS also refuses a second holder inside the same process. The
 * database itself stays shared: `flock token create` may still write to it while the
 * coordinator runs.
 */
export class CoordinatorLock {
  private constructor(
    private readonly sqlite: Sqlite,
    private readonly infoFile: string,
  ) {}

  /** Takes the lock of the database at `dbPath`; throws STORE_LOCKED when another coordinator holds it. */
  static acquire(dbPath: string): CoordinatorLock {
    if (typeof dbPath !== 'string' || dbPath.length === 0) throw new TypeError('dbPath must be a non-empty string');
    const lockFile = `${dbPath}-coordinator.lock`;
    const infoFile = `${lockFile}.json`;
    // No busy timeout: a held lock is an immediate refusal, not a wait.
    const sqlite = new Database(lockFile, { timeout: 0 });
    try {
      sqlite.pragma('locking_mode = EXCLUSIVE');
      // The first write takes the exclusive lock; EXCLUSIVE locking mode keeps it until close.
      sqlite.exec('CREATE TABLE IF NOT EXISTS holder (id INTEGER PRIMARY KEY, pid INTEGER, started_at TEXT)');
      sqlite.prepare('INSERT OR REPLACE INTO holder (id, pid, started_at) VALUES (1, ?, ?)').run(process.pid, new Date().toISOString());
    } catch (err) {
      sqlite.close();
      if ((err as { code?: unknown }).code === 'SQLITE_BUSY' || (err as { code?: unknown }).code === 'SQLITE_LOCKED') {
        const holder = readHolder(infoFile);
        const who = holder ? ` (pid ${holder.pid} on ${holder.host}, started ${holder.startedAt})` : '';
        throw new FlockError(
          'STORE_LOCKED',
          `another coordinator is running on ${dbPath}${who}; stop it first, or point --db (or --data-dir) at another file`,
          { database: dbPath, ...(holder ? { holder } : {}) },
        );
      }
      throw err;
    }
    const holder: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
    try {
      writeFileSync(infoFile, JSON.stringify(holder) + '\n', { mode: 0o600 });
    } catch {
      // Informative only: the SQLite lock is what excludes a second coordinator.
    }
    return new CoordinatorLock(sqlite, infoFile);
  }

  release(): void {
    if (!this.sqlite.open) return;
    this.sqlite.close();
    rmSync(this.infoFile, { force: true });
  }
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    if (typeof h.pid === 'number' && typeof h.host === 'string' && typeof h.startedAt === 'string') return { pid: h.pid, host: h.host, startedAt: h.startedAt };
  } catch {
    // missing or unreadable: the message just names the database
  }
  return undefined;
}
