import { FlockError } from '@flock/protocol';
import type { Db } from './connection.js';

/**
 * The PostgreSQL schema: the tables of the SQLite schema (../migrations.ts), in PostgreSQL
 * types: weights are BYTEA (little-endian float32 bytes, never numbers in JSON), epsilon
 * DOUBLE PRECISION, times ISO-8601 TEXT as in SQLite. Migration i (0-based) takes the schema
 * from version i to i + 1 (table schema_migrations). Never edit a released migration.
 */
export const PG_MIGRATIONS: readonly string[] = [
  // 1: the durable schema of SQLite migration 1 (issue #7).
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
    weights BYTEA,
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
    epsilon DOUBLE PRECISION NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE uploads (
    round_id TEXT NOT NULL REFERENCES rounds(round_id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (round_id, client_id)
  );
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
  // 2: the serving version's audited changes (SQLite migration 2, issue #14).
  `
  CREATE TABLE serving_events (
    id INTEGER PRIMARY KEY,
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
  // 3: fleets on one database (issue #15): the highest fleet fencing token a leader claimed or
  // committed with; a write carrying a smaller one is refused (ROUND_ABANDONED, reason lease-lost).
  `
  ALTER TABLE federation ADD COLUMN fence_token BIGINT NOT NULL DEFAULT 0;
  `,
  // 4: serving-event ids from the database (issue #15): every node of a fleet appends its own
  // serving changes, and ids counted in each node's memory collided (the second insert failed).
  `
  CREATE SEQUENCE serving_events_id_seq OWNED BY serving_events.id;
  SELECT setval('serving_events_id_seq', COALESCE((SELECT MAX(id) FROM serving_events), 0) + 1, false);
  ALTER TABLE serving_events ALTER COLUMN id SET DEFAULT nextval('serving_events_id_seq');
  `,
];

/** First key of Flock's advisory locks ('Floc'); the second is the schema's hash. */
export const ADVISORY_CLASS = 0x466c6f63;
/** Second-key offsets: migration lock and coordinator lock of one schema are distinct locks. */
export const MIGRATION_LOCK = `hashtext(current_schema() || '/migrate')`;
export const COORDINATOR_LOCK = `hashtext(current_schema() || '/coordinator')`;

/** The schema version of an open database (0 if never migrated). */
export async function pgSchemaVersion(db: Db): Promise<number> {
  const t = await db.rows<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
  if (!t[0]?.t) return 0;
  return (await db.rows<{ v: number }>('SELECT COALESCE(MAX(version), 0)::int AS v FROM schema_migrations'))[0]!.v;
}

/**
 * Brings the schema up to date: every pending migration and its schema_migrations row in ONE
 * transaction, under a transaction-scoped advisory lock, so two nodes starting at once apply
 * each migration once (the second waits, then finds nothing to do). A schema written by a newer
 * Flock is refused with STORE_INCOMPATIBLE.
 */
export async function migratePg(db: Db, migrations: readonly string[] = PG_MIGRATIONS): Promise<{ from: number; to: number }> {
  return db.transaction(async (c) => {
    await c.query(`SELECT pg_advisory_xact_lock(${ADVISORY_CLASS}, ${MIGRATION_LOCK})`);
    await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY CHECK (version > 0), applied_at TEXT NOT NULL)');
    const from = (await c.query<{ v: number }>('SELECT COALESCE(MAX(version), 0)::int AS v FROM schema_migrations')).rows[0]!.v;
    if (from > migrations.length) {
      throw new FlockError('STORE_INCOMPATIBLE', `database schema version ${from} is newer than this Flock knows (${migrations.length}); upgrade Flock or use another database`, {
        schemaVersion: from,
        supported: migrations.length,
      });
    }
    for (let v = from; v < migrations.length; v++) {
      await c.query(migrations[v]!);
      await c.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [v + 1, new Date().toISOString()]);
    }
    return { from, to: migrations.length };
  });
}
