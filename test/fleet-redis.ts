import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { freeLoopbackPort, startRedisServer } from '../packages/cli/src/bench/redis-server.js';

/** Where Debian puts the binaries the fleet tests spawn (.ci/run installs them). */
export const REDIS_SERVER = process.env.FLOCK_REDIS_SERVER ?? '/usr/bin/redis-server';
export const NGINX = process.env.FLOCK_NGINX ?? '/usr/sbin/nginx';

/**
 * Whether the fleet tests can run. Missing binaries skip them on a developer machine, and fail
 * them when FLOCK_REQUIRE_FLEET=1 (CI sets it: a missing Redis must not pass as green).
 */
export function fleetBinaries(needs: { nginx?: boolean } = {}): boolean {
  const missing = [REDIS_SERVER, ...(needs.nginx ? [NGINX] : [])].filter((p) => !existsSync(p));
  if (missing.length === 0) return true;
  if (process.env.FLOCK_REQUIRE_FLEET === '1') throw new Error(`FLOCK_REQUIRE_FLEET=1 but ${missing.join(', ')} missing: apt-get install redis-server nginx (or set FLOCK_REDIS_SERVER / FLOCK_NGINX)`);
  return false;
}

/** A TCP port nobody listens on right now. */
export const freePort = freeLoopbackPort;

export interface RedisProcess {
  port: number;
  url: string;
  child: ChildProcess;
  /** A client on this server (closed by stop()). */
  client(): Redis;
  /** kill -9 (state is lost: no persistence). */
  kill(): Promise<void>;
  /** Starts again on the same port, empty. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A private redis-server on a free loopback port, without persistence; `password`: it requires AUTH (`--requirepass`). */
export async function spawnRedis(o: { password?: string } = {}): Promise<RedisProcess> {
  const port = await freePort();
  const clients: Redis[] = [];
  const start = (): Promise<ChildProcess> => startRedisServer(REDIS_SERVER, port, o.password ? ['--requirepass', o.password] : []);
  const dead = (c: ChildProcess): Promise<void> => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', () => r())));
  const proc: RedisProcess = {
    port,
    url: `redis://${o.password ? `:${encodeURIComponent(o.password)}@` : ''}127.0.0.1:${port}`,
    child: await start(),
    client() {
      const c = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 2, retryStrategy: () => 100, ...(o.password ? { password: o.password } : {}) });
      clients.push(c);
      return c;
    },
    async kill() {
      proc.child.kill('SIGKILL');
      await dead(proc.child);
    },
    async restart() {
      proc.child = await start();
    },
    async stop() {
      for (const c of clients) c.disconnect();
      proc.child.kill('SIGKILL');
      await dead(proc.child);
    },
  };
  return proc;
}

/** Resolves once `pred` holds, polling every 20 ms; rejects after `ms` (a hang guard, not an assertion). */
export async function until(pred: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
