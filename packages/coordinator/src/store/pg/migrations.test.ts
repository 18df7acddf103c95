import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { FlockError } from '@flock/protocol';
import { POSTGRES_SKIP, POSTGRES_URL } from '../backends.test-support.js';
import { createPool, Db, redactUrl } from './connection.js';
import { openPostgresStore } from './database.js';
import { PG_MIGRATIONS, migratePg, pgSchemaVersion } from './migrations.js';

const error = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e);

describe('openPostgresStore without a server', () => {
  it('checks its options', async () => {
    expect(await error(openPostgresStore({ url: '' }))).toBeInstanceOf(TypeError);
    expect(await error(openPostgresStore({ url: 'mysql://x' }))).toBeInstanceOf(RangeError);
    expect(String(await error(openPostgresStore({ url: 'postgres://a@b/c', schema: 'Robert"); DROP' })))).toMatch(/schema/);
  });

  it('an unreachable server is STORE_UNAVAILABLE, and the password never shows', async () => {
    const err = await error(openPostgresStore({ url: 'postgres://flock:s3cret-pw@127.0.0.1:1/flock', connectTimeoutMs: 2000 }));
    expect(err).toBeInstanceOf(FlockError);
    expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE', details: { cause: 'connect', database: 'postgres://flock:***@127.0.0.1:1/flock' } });
    expect(JSON.stringify({ m: (err as Error).message, d: (err as FlockError).details })).not.toContain('s3cret-pw');
    expect(redactUrl('postgresql://u:p@h/d')).toBe('postgresql://u:***@h/d');
  });
});

describe.skipIf(POSTGRES_SKIP !== undefined)(`PostgreSQL migrations${POSTGRES_SKIP ? ` (skipped: ${POSTGRES_SKIP})` : ''}`, () => {
  const schemas: string[] = [];
  const pools: Db[] = [];
  function fresh(schema = `flock_test_${randomBytes(6).toString('hex')}`): Db {
    if (!schemas.includes(schema)) schemas.push(schema);
    const db = new Db(createPool({ url: POSTGRES_URL!, schema }), POSTGRES_URL!);
    pools.push(db);
    return db;
  }
  afterEach(async () => {
    for (const p of pools.splice(0)) await p.pool.end();
    const c = new pg.Client({ connectionString: POSTGRES_URL });
    await c.connect();
    for (const s of schemas.splice(0)) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await c.end();
  });
  const create = async (db: Db): Promise<void> => {
    await db.query(`CREATE SCHEMA IF NOT EXISTS ${schemas.at(-1)!}`);
  };

  it('migration 4 numbers new serving events after the ones a database already holds', async () => {
    const db = fresh();
    await create(db);
    await migratePg(db, PG_MIGRATIONS.slice(0, 3));
    const row = (id: number): unknown[] => [id, 'now', 'promote', id, id, '[]', 'always', 'coordinator', 'r', '{}'];
    for (const id of [1, 2, 7]) await db.query('INSERT INTO serving_events (id, at, action, version, serving, stack, policy, actor, reason, metrics) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)', row(id));
    await migratePg(db);
    const ids = await db.rows<{ id: number }>("INSERT INTO serving_events (at, action, version, serving, stack, policy, actor, reason, metrics) VALUES ('now', 'promote', 8, 8, '[]', 'always', 'coordinator', 'r', '{}'), ('now', 'hold', 9, 8, '[]', 'always', 'coordinator', 'r', '{}') RETURNING id");
    expect(ids.map((r) => r.id)).toEqual([8, 9]);
  });

  it('apply in order inside a transaction and record schema_migrations', async () => {
    const db = fresh();
    await create(db);
    expect(await pgSchemaVersion(db)).toBe(0);
    expect(await migratePg(db)).toEqual({ from: 0, to: PG_MIGRATIONS.length });
    expect(await migratePg(db)).toEqual({ from: PG_MIGRATIONS.length, to: PG_MIGRATIONS.length });
    expect(await migratePg(db, [...PG_MIGRATIONS, 'CREATE TABLE later (x INTEGER)'])).toEqual({ from: PG_MIGRATIONS.length, to: PG_MIGRATIONS.length + 1 });
    expect(await pgSchemaVersion(db)).toBe(PG_MIGRATIONS.length + 1);
    // Weights are bytes, never numbers in JSON.
    const col = await db.rows<{ data_type: string }>("SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'model_versions' AND column_name = 'weights'");
    expect(col[0]!.data_type).toBe('bytea');
  });

  it('a failing migration leaves the schema at its old version', async () => {
    const db = fresh();
    await create(db);
    await migratePg(db);
    expect(await error(migratePg(db, [...PG_MIGRATIONS, 'CREATE TABLE ok (x INTEGER); THIS IS NOT SQL']))).toBeTruthy();
    expect(await pgSchemaVersion(db)).toBe(PG_MIGRATIONS.length);
    expect((await db.rows("SELECT to_regclass('ok') AS t"))[0]).toEqual({ t: null });
  });

  it('two nodes migrating a fresh schema at once apply each migration once (advisory lock)', async () => {
    const a = fresh();
    await create(a);
    const b = fresh(schemas.at(-1));
    const results = await Promise.allSettled([migratePg(a), migratePg(b)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value.from : -1)).sort()).toEqual([0, PG_MIGRATIONS.length]);
    expect((await a.rows<{ n: number }>('SELECT COUNT(*)::int AS n FROM schema_migrations'))[0]!.n).toBe(PG_MIGRATIONS.length);
  });

  it('refuses a schema from a newer Flock with STORE_INCOMPATIBLE', async () => {
    const db = fresh();
    await create(db);
    await migratePg(db);
    await db.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [PG_MIGRATIONS.length + 1, 'later']);
    const err = await error(migratePg(db));
    expect(err).toBeInstanceOf(FlockError);
    expect(err).toMatchObject({ code: 'STORE_INCOMPATIBLE', details: { schemaVersion: PG_MIGRATIONS.length + 1, supported: PG_MIGRATIONS.length } });
  });

  it('a wrong password is STORE_UNAVAILABLE (auth) without the password', async () => {
    const u = new URL(POSTGRES_URL!);
    u.password = 'wrong-pw-123';
    const err = await error(openPostgresStore({ url: u.toString() }));
    expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE', details: { cause: 'auth', pgCode: '28P01' } });
    expect(JSON.stringify({ m: (err as Error).message, d: (err as FlockError).details })).not.toContain('wrong-pw-123');
  });
});
