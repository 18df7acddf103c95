import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { freePort } from './fleet-redis.js';

/**
 * A throwaway PostgreSQL server of this test's own (initdb + pg_ctl on a free loopback port in a
 * temp dir), so a test can really stop and start it. PostgreSQL refuses to run as root: as root
 * it runs as the `postgres` user through runuser (as .ci/run does).
 */
export interface PgInstance {
  url: string;
  /** Stops the server like a crash (pg_ctl -m immediate: connections cut, no checkpoint). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data (resolves once it accepts connections). */
  start(): Promise<void>;
  dispose(): void;
}

function pgBin(): string | undefined {
  if (process.env.FLOCK_PG_BIN) return process.env.FLOCK_PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const v = readdirSync(root).filter((d) => existsSync(path.join(root, d, 'bin', 'pg_ctl'))).sort((a, b) => Number(a) - Number(b)).at(-1);
  return v === undefined ? undefined : path.join(root, v, 'bin');
}

const asRoot = (): boolean => process.getuid?.() === 0;

/** Why a throwaway server cannot run here (undefined when it can). */
export function throwawayPostgresSkip(): string | undefined {
  const bin = pgBin();
  if (!bin) return 'no PostgreSQL binaries (/usr/lib/postgresql/*/bin; apt-get install postgresql, or set FLOCK_PG_BIN)';
  if (asRoot()) {
    if (spawnSync('id', ['-u', 'postgres']).status !== 0) return 'running as root and there is no postgres user to run the server as';
    if (spawnSync('runuser', ['--help']).status !== 0) return 'running as root without runuser';
  }
  return undefined;
}

const asPostgres = (cmd: string, args: string[]): [string, string[]] => (asRoot() ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);

function run(cmd: string, args: string[]): void {
  const [file, argv] = asPostgres(cmd, args);
  const r = spawnSync(file, argv, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
}

/** As run(), without blocking the event loop (the test's clients keep running meanwhile). */
async function runAsync(cmd: string, args: string[]): Promise<void> {
  const [file, argv] = asPostgres(cmd, args);
  await promisify(execFile)(file, argv, { encoding: 'utf8' });
}

/** initdb, start, and a `flock` superuser with a fresh database; the URL points at it. */
export async function startThrowawayPostgres(): Promise<PgInstance> {
  const skip = throwawayPostgresSkip();
  if (skip) throw new Error(skip);
  const bin = pgBin()!;
  const dir = mkdtempSync(path.join(tmpdir(), 'flock-pg-'));
  if (asRoot()) chownSync(dir, Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim()), Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim()));
  const data = path.join(dir, 'data');
  const port = await freePort();
  const superuser = asRoot() ? 'postgres' : userInfo().username;
  run(path.join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', superuser, '--no-sync']);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  const startArgs = ['-D', data, '-o', opts, '-l', path.join(dir, 'log'), '-w', '-t', '60', 'start'];
  const stopArgs = ['-D', data, '-m', 'immediate', '-w', 'stop'];
  run(path.join(bin, 'pg_ctl'), startArgs);
  const password = randomBytes(8).toString('hex');
  const admin = new pg.Client({ connectionString: `postgres://${superuser}@127.0.0.1:${port}/postgres` });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE flock LOGIN SUPERUSER PASSWORD '${password}'`);
    await admin.query('CREATE DATABASE flock OWNER flock');
  } finally {
    await admin.end();
  }
  let disposed = false;
  return {
    url: `postgres://flock:${password}@127.0.0.1:${port}/flock`,
    stop: () => runAsync(path.join(bin, 'pg_ctl'), stopArgs),
    start: () => runAsync(path.join(bin, 'pg_ctl'), startArgs),
    dispose() {
      if (disposed) return;
      disposed = true;
      try {
        run(path.join(bin, 'pg_ctl'), stopArgs);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
