import Database from 'better-sqlite3';

export type Sqlite = Database.Database;

/**
 * Opens a SQLite database with the settings every Flock store relies on: write-ahead log
 * (readers never block the writer), `synchronous=FULL` (a committed transaction survives a
 * power cut, not only a process crash), foreign keys enforced, and a busy timeout so a second
 * process (an operator's `sqlite3` shell) briefly holding a lock does not fail the coordinator.
 * `:memory:` opens a private in-memory database (tests).
 */
export function openSqlite(path: string, busyTimeoutMs = 5000): Sqlite {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('path must be a non-empty string (a file path or ":memory:")');
  const db = new Database(path);
  try {
    if (path !== ':memory:') db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** JSON column helpers (NULL stays undefined). */
export function toJson(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

export function fromJson<T>(text: string | null | undefined): T | undefined {
  return text === null || text === undefined ? undefined : (JSON.parse(text) as T);
}
