import { FlockError } from '@flock/protocol';
import type { Sqlite } from './sqlite.js';

/**
 * The schema, as an ordered list of migrations: migration i (0-based) takes a database from
 * `user_version` i to i + 1. Never edit a released migration; append a new one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the first durable schema (issue #7).
  `
  CREATE TABLE federation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    federation_id TEXT NOT NULL,
    config TEXT NOT NULL,
    spec TEXT NOT NULL,
    topology TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE TABLE model_versions (
    version INTEGER PRIMARY KEY CHECK (version >= 0),
    round INTEGER NOT NULL,
    hash TEXT NOT NULL,
    weights BLOB,
    metrics TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
  );
  CREATE TABLE rounds (
    round INTEGER PRIMARY KEY CHECK (round > 0),
    round_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('train', 'evaluate')),
    status TEXT NOT NULL CHECK (status IN ('running', 'committed', 'abandoned', 'completed')),
    model_version INTEGER NOT NULL REFERENCES model_versions(version),
    committed_version INTEGER REFERENCES model_versions(version),
    cohort TEXT NOT NULL,
    reporters TEXT,
    metrics TEXT,
    reason TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    CHECK ((status = 'committed') = (committed_version IS NOT NULL))
  );
  -- A model version is produced by exactly one committed round.
  CREATE UNIQUE INDEX rounds_committed_version ON rounds(committed_version) WHERE committed_version IS NOT NULL;
  CREATE INDEX rounds_status ON rounds(status);
  CREATE TABLE strategy_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    strategy TEXT NOT NULL,
    state TEXT NOT NULL,
    model_version INTEGER NOT NULL REFERENCES model_versions(version),
    updated_at TEXT NOT NULL
  );
  CREATE TABLE privacy_ledger (
    client_id TEXT PRIMARY KEY,
    rounds INTEGER NOT NULL CHECK (rounds >= 0),
    epsilon REAL NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE uploads (
    round_id TEXT NOT NULL REFERENCES rounds(round_id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (round_id, client_id)
  ) WITHOUT ROWID;
  CREATE TABLE enrollment_tokens (
    id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    label TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    bound_client_id TEXT UNIQUE,
    revoked_at TEXT
  );
  CREATE TABLE identities (
    client_id TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    token_id TEXT NOT NULL UNIQUE REFERENCES enrollment_tokens(id),
    enrolled_at TEXT NOT NULL,
    revoked_at TEXT,
    last_seen_at TEXT
  );
  `,
  // 2: the serving version and its audited changes (issue #14): the serving version is the last
  // row's `serving`; `stack` is the rollback stack after the change (JSON array of versions).
  `
  CREATE TABLE serving_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('initial', 'promote', 'rollback', 'hold')),
    version INTEGER NOT NULL,
    serving INTEGER NOT NULL,
    stack TEXT NOT NULL,
    policy TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{}'
  );
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** `PRAGMA user_version` of an open database. */
export function schemaVersion(db: Sqlite): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings a database up to {@link SCHEMA_VERSION}: all pending migrations and the new
 * `user_version` in one transaction (a crash mid-way leaves the old version intact).
 * Refuses a database written by a newer Flock with STORE_INCOMPATIBLE: guessing at an
 * unknown schema could corrupt it.
 */
export function migrate(db: Sqlite, migrations: readonly string[] = MIGRATIONS): { from: number; to: number } {
  const run = db.transaction(() => {
    const from = schemaVersion(db);
    if (from > migrations.length) {
      throw new FlockError('STORE_INCOMPATIBLE', `database schema version ${from} is newer than this Flock knows (${migrations.length}); upgrade Flock or use another database`, {
        schemaVersion: from,
        supported: migrations.length,
      });
    }
    for (let v = from; v < migrations.length; v++) db.exec(migrations[v]!);
    // PRAGMA does not take bound parameters; the value is an integer we computed.
    if (from !== migrations.length) db.pragma(`user_version = ${migrations.length}`);
    return { from, to: migrations.length };
  });
  return run.immediate();
}
