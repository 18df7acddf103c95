import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FlockError, type ModelSpec } from '@flock/protocol';
import type { FlatModel } from '@flock/model';
import { Coordinator } from '../coordinator.js';
import { CoordinatorLock } from './lock.js';
import { eachBackend, POSTGRES_SKIP, POSTGRES_URL, type Place } from './backends.test-support.js';
import { ADVISORY_CLASS, COORDINATOR_LOCK } from './pg/migrations.js';

const dirs: string[] = [];
function tmpDb(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'flock-lock-'));
  dirs.push(dir);
  return path.join(dir, 'coordinator.db');
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const spec: ModelSpec = { format: 'flock-weights/v1', weights: [{ name: 'w', shape: [2], dtype: 'float32' }] };
const model: FlatModel = { topology: { class_name: 'Sequential' }, spec, weights: Float32Array.from([1, 2]) };

function storeLocked(fn: () => unknown): FlockError {
  try {
    fn();
  } catch (err) {
    if (err instanceof FlockError && err.code === 'STORE_LOCKED') return err;
    throw err;
  }
  throw new Error('expected STORE_LOCKED');
}

async function storeLockedAsync(fn: () => Promise<unknown>): Promise<FlockError> {
  const err = await fn().then(() => undefined, (e: unknown) => e);
  if (err instanceof FlockError && err.code === 'STORE_LOCKED') return err;
  throw err ?? new Error('expected STORE_LOCKED');
}

describe('CoordinatorLock', () => {
  it('refuses a second holder of the same database and names the first', () => {
    const db = tmpDb();
    const first = CoordinatorLock.acquire(db);
    const err = storeLocked(() => CoordinatorLock.acquire(db));
    expect(err.message).toContain(db);
    expect(err.message).toContain(`pid ${process.pid}`);
    expect(err.message).toMatch(/--db/);
    first.release();
    CoordinatorLock.acquire(db).release(); // free again once released
  });

  it('is released by the operating system when the holder is killed with SIGKILL', async () => {
    const db = tmpDb();
    const require = createRequire(import.meta.url);
    const sqlitePath = require.resolve('better-sqlite3');
    // A separate process takes the same kind of lock, says so, then waits to be killed.
    const script = `
      const Database = require(${JSON.stringify(sqlitePath)});
      const db = new Database(${JSON.stringify(db + '-coordinator.lock')});
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('CREATE TABLE IF NOT EXISTS holder (id INTEGER PRIMARY KEY, pid INTEGER, started_at TEXT)');
      db.prepare('INSERT OR REPLACE INTO holder (id, pid, started_at) VALUES (1, ?, ?)').run(process.pid, 'now');
      process.stdout.write('locked\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => b.toString().includes('locked') && resolve());
      child.once('exit', (code) => reject(new Error(`lock holder exited early (${code})`)));
    });
    storeLocked(() => CoordinatorLock.acquire(db));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    CoordinatorLock.acquire(db).release();
  });

  it('checks its argument', () => {
    expect(() => CoordinatorLock.acquire('')).toThrow(TypeError);
  });
});

describe('two coordinators on one database file', () => {
  it('the second is refused with STORE_LOCKED before it resumes anything; the first keeps its database', async () => {
    const db = tmpDb();
    const a = new Coordinator({ model, database: db });
    try {
      const err = storeLocked(() => new Coordinator({ model, database: db }));
      expect(err.details).toMatchObject({ database: db });
      // The first still commits to its database (a second coordinator would have marked rounds abandoned).
      expect(a.database!.rounds.lastRound()).toBe(0);
      expect(a.store.latest().version).toBe(0);
    } finally {
      await a.close();
    }
    // After the first closed, a new coordinator resumes the database.
    const b = new Coordinator({ model, database: db });
    await b.close();
  });
});

eachBackend('two coordinators on one store', (backend) => {
  let place: Place;
  beforeEach(async () => {
    place = await backend.place();
  });
  afterEach(async () => {
    await place.dispose();
  });

  it('Coordinator.open refuses the second with STORE_LOCKED; once the first closed, another resumes', async () => {
    const a = await Coordinator.open({ model, database: await place.open() });
    try {
      const second = await place.open();
      await storeLockedAsync(() => Coordinator.open({ model, database: second }));
      expect(await a.database!.rounds.lastRound()).toBe(0);
    } finally {
      await a.close();
    }
    const b = await Coordinator.open({ model, database: await place.open() });
    expect(b.store.latest().version).toBe(0);
    await b.close();
  });
});

describe.skipIf(POSTGRES_SKIP !== undefined)(`PostgreSQL coordinator lock${POSTGRES_SKIP ? ` (skipped: ${POSTGRES_SKIP})` : ''}`, () => {
  it('new Coordinator() on a PostgreSQL store is refused (use Coordinator.open) and leaves no lock behind', async () => {
    const place = await (await import('./backends.test-support.js')).BACKENDS.find((b) => b.name === 'postgres')!.place();
    try {
      const store = await place.open();
      expect(() => new Coordinator({ model, database: store })).toThrow(/Coordinator\.open/);
      // The lock the refused constructor had asked for is released once it arrives.
      let c: Coordinator | undefined;
      for (let i = 0; i < 100 && !c; i++) {
        c = await Coordinator.open({ model, database: store }).catch(async (e: unknown) => {
          if (!(e instanceof FlockError && e.code === 'STORE_LOCKED')) throw e;
          await new Promise((r) => setTimeout(r, 50));
          return undefined;
        });
      }
      expect(c).toBeDefined();
      await c!.close();
    } finally {
      await place.dispose();
    }
  });

  it('is released by the server when the holding process is killed with SIGKILL', async () => {
    const place = await (await import('./backends.test-support.js')).BACKENDS.find((b) => b.name === 'postgres')!.place();
    try {
      const store = await place.open();
      const schema = /schema (\w+)/.exec(store.location)![1]!;
      const require = createRequire(import.meta.url);
      const script = `
        const pg = require(${JSON.stringify(require.resolve('pg'))});
        const c = new pg.Client({ connectionString: process.env.URL, options: '-c search_path=${schema}' });
        c.connect().then(() => c.query(${JSON.stringify(`SELECT pg_try_advisory_lock(${ADVISORY_CLASS}, ${COORDINATOR_LOCK}) AS ok`)})).then((r) => {
          process.stdout.write(r.rows[0].ok ? 'locked\\n' : 'refused\\n');
          setInterval(() => {}, 1000);
        });
      `;
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, URL: POSTGRES_URL } });
      const said = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (b: Buffer) => resolve(b.toString()));
        child.once('exit', (code) => reject(new Error(`lock holder exited early (${code})`)));
      });
      expect(said).toContain('locked');
      await storeLockedAsync(() => Promise.resolve(store.lock()));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      // The server notices the dropped connection and frees the lock; no stale lock stays.
      let lock: Awaited<ReturnType<typeof store.lock>> | undefined;
      for (let i = 0; i < 100 && !lock; i++) {
        lock = await Promise.resolve(store.lock()).catch(() => new Promise<undefined>((r) => setTimeout(() => r(undefined), 50)));
      }
      expect(lock).toBeDefined();
      await lock!.release();
    } finally {
      await place.dispose();
    }
  });
});
