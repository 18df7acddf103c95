import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openPostgresStore } from '@flock/coordinator';
import { flock } from './flock-process.js';
import { describe, expect, it } from 'vitest';
import { checkHistory, crashRun, referenceRun } from './crash-harness.js';

// A real `flock coordinator` process on PostgreSQL (the config file's `postgres` block, a fresh
// schema), real SDK clients over socket.io: killed and restarted mid-round and right after a
// commit, it resumes from the server: consecutive versions, each committed once, the model
// hash of an uninterrupted run. Runs when FLOCK_TEST_POSTGRES_URL is set (CI sets it and
// FLOCK_REQUIRE_POSTGRES=1, which fails the store tests when the server is missing).
const URL_ = process.env.FLOCK_TEST_POSTGRES_URL;
const skip = URL_ ? undefined : 'FLOCK_TEST_POSTGRES_URL is not set';

describe.skipIf(skip !== undefined)(`flock coordinator --postgres${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('runs rounds on PostgreSQL, restarts (SIGKILL) twice, and resumes: consecutive versions, same final model', async () => {
    const schema = `flock_test_${randomBytes(6).toString('hex')}`;
    const rounds = 3;
    try {
      const reference = await referenceRun(rounds);
      const run = await crashRun(rounds, ['collection', 'committed'], { postgres: { url: URL_!, schema } });
      expect(run.kills.map((k) => k.phase)).toEqual(['collection', 'committed']);
      expect(checkHistory(run, rounds)).toEqual([]);
      expect(run.versions.map((v) => v.version)).toEqual([0, 1, 2, 3]);
      expect(run.restartLogs).toBe(2);
      expect(run.rounds.some((r) => r.status === 'abandoned')).toBe(true);
      expect(run.initialHash).toBe(reference.initialHash);
      expect(run.finalHash).toBe(reference.finalHash);
    } finally {
      const c = new pg.Client({ connectionString: URL_ });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    }
  }, 180_000);

  it('flock token create --postgres mints into the PostgreSQL registry (only the hash is stored)', async () => {
    const schema = `flock_test_${randomBytes(6).toString('hex')}`;
    const dir = mkdtempSync(path.join(tmpdir(), 'flock-pg-token-'));
    const admin = new pg.Client({ connectionString: URL_ });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA ${schema}`);
      // The schema through the URL's libpq `options` parameter.
      const url = `${URL_}${URL_!.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
      const p = flock(['token', 'create', '--postgres', url, '--label', 'pg-phone', '--json', '--data-dir', dir]);
      expect(await p.exited()).toBe(0);
      const minted = p.lines[0] as { token: string; id: string };
      expect(minted.token.startsWith(`${minted.id}.`)).toBe(true);
      const store = await openPostgresStore({ url: URL_!, schema });
      try {
        const t = await store.registry.getToken(minted.id);
        expect(t).toMatchObject({ label: 'pg-phone', boundClientId: null, secretHash: createHash('sha256').update(minted.token.split('.')[1]!).digest('hex') });
      } finally {
        await store.close();
      }
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
