// The store backends every store test runs against (describe per backend): SQLite always,
// PostgreSQL when FLOCK_TEST_POSTGRES_URL is set. FLOCK_REQUIRE_POSTGRES=1 (CI) turns a missing
// or unreachable server into a failing test instead of a skip.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openFederationDatabase } from './database.js';
import { openSqlite } from './sqlite.js';
import { redactUrl } from './pg/connection.js';
import { openPostgresStore } from './pg/database.js';
import type { FederationStore } from './types.js';

export const POSTGRES_URL = process.env.FLOCK_TEST_POSTGRES_URL || undefined;
export const POSTGRES_REQUIRED = process.env.FLOCK_REQUIRE_POSTGRES === '1';

async function probe(): Promise<string | undefined> {
  if (!POSTGRES_URL) return 'FLOCK_TEST_POSTGRES_URL is not set';
  const c = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return undefined;
  } catch (err) {
    return `PostgreSQL at ${redactUrl(POSTGRES_URL)} is unreachable: ${(err as Error).message}`;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Why the PostgreSQL variants do not run here; undefined when they do. */
export const POSTGRES_SKIP = await probe();
if (POSTGRES_SKIP && !POSTGRES_REQUIRED) console.warn(`store tests: PostgreSQL variants skipped: ${POSTGRES_SKIP}`);

/** One isolated place for a test's data: a temp SQLite file, or a fresh PostgreSQL schema. */
export interface Place {
  /** Opens another store instance on this place (a restart, or a second writer). */
  open(): Promise<FederationStore>;
  /** What `new Coordinator({ database })` takes for a coordinator that owns its store (SQLite: the path), if the backend has one. */
  readonly path: string | undefined;
  /** Makes every `op` on `table` fail with `message` (a trigger), until {@link clearFault}. */
  fault(table: string, op: 'INSERT' | 'UPDATE', message: string): Promise<void>;
  clearFault(table: string, op: 'INSERT' | 'UPDATE'): Promise<void>;
  /** Closes every store it opened and deletes the data. */
  dispose(): Promise<void>;
}

export interface StoreBackend {
  name: 'sqlite' | 'postgres';
  skip: string | undefined;
  place(): Promise<Place>;
}

const sqlite: StoreBackend = {
  name: 'sqlite',
  skip: undefined,
  async place() {
    const dir = mkdtempSync(path.join(tmpdir(), 'flock-store-'));
    const file = path.join(dir, 'coordinator.db');
    const opened: FederationStore[] = [];
    const exec = (sql: string): void => {
      const raw = openSqlite(file);
      try {
        raw.exec(sql);
      } finally {
        raw.close();
      }
    };
    return {
      path: file,
      async open() {
        const db = openFederationDatabase(file);
        opened.push(db);
        return db;
      },
      async fault(table, op, message) {
        exec(`CREATE TRIGGER fail_${table}_${op} BEFORE ${op} ON ${table} BEGIN SELECT RAISE(ABORT, '${message}'); END`);
      },
      async clearFault(table, op) {
        exec(`DROP TRIGGER fail_${table}_${op}`);
      },
      async dispose() {
        for (const s of opened.splice(0)) await s.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

const postgres: StoreBackend = {
  name: 'postgres',
  skip: POSTGRES_SKIP,
  async place() {
    const url = POSTGRES_URL!;
    const schema = `flock_test_${randomBytes(6).toString('hex')}`;
    const opened: FederationStore[] = [];
    const admin = async (sql: string): Promise<void> => {
      const c = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
      await c.connect();
      try {
        await c.query(sql);
      } finally {
        await c.end();
      }
    };
    return {
      path: undefined,
      async open() {
        const s = await openPostgresStore({ url, schema });
        opened.push(s);
        return s;
      },
      async fault(table, op, message) {
        await admin(`CREATE FUNCTION fail_${table}_${op}() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION '${message}'; END $$ LANGUAGE plpgsql;
          CREATE TRIGGER fail_${table}_${op} BEFORE ${op} ON ${table} FOR EACH ROW EXECUTE FUNCTION fail_${table}_${op}()`);
      },
      async clearFault(table, op) {
        await admin(`DROP TRIGGER fail_${table}_${op} ON ${table}; DROP FUNCTION fail_${table}_${op}()`);
      },
      async dispose() {
        for (const s of opened.splice(0)) await s.close();
        await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      },
    };
  },
};

export const BACKENDS: readonly StoreBackend[] = [sqlite, postgres];

/** `describe` once per backend; a skipped backend says why in its title. */
export function eachBackend(title: string, fn: (b: StoreBackend) => void): void {
  for (const b of BACKENDS) {
    if (b.skip) describe.skip(`${title} [${b.name}] (skipped: ${b.skip})`, () => fn(b));
    else describe(`${title} [${b.name}]`, () => fn(b));
  }
}

/** The loud failure CI asks for (FLOCK_REQUIRE_POSTGRES=1): registered by one store test file. */
export function requirePostgresTest(): void {
  describe('PostgreSQL store tests', () => {
    it.runIf(POSTGRES_REQUIRED)('run: FLOCK_REQUIRE_POSTGRES=1 needs FLOCK_TEST_POSTGRES_URL set and the server reachable', () => {
      expect(POSTGRES_SKIP, POSTGRES_SKIP).toBeUndefined();
    });
  });
}
