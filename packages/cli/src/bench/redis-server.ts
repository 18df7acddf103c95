/**
 * The Redis a multi-node `flock bench fleet` runs on: an existing one (`--redis URL`), or a
 * private `redis-server` on a free loopback port without persistence, stopped at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';

export interface BenchRedis {
  url: string;
  stop(): void;
}

const CANDIDATES = [process.env.FLOCK_REDIS_SERVER, '/usr/bin/redis-server', '/usr/local/bin/redis-server'];

/** A TCP port nobody listens on right now, on 127.0.0.1. */
export async function freeLoopbackPort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * `redis-server` on 127.0.0.1:`port` without persistence, resolved once it accepts connections
 * (also used by the fleet tests, test/fleet-redis.ts).
 */
export async function startRedisServer(bin: string, port: number, extra: string[] = []): Promise<ChildProcess> {
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 20 s: ${seen.slice(-500)}`)), 20_000);
    const onData = (d: Buffer): void => {
      seen += d.toString();
      if (seen.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${seen.slice(-500)}`));
    });
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

export async function benchRedis(url?: string): Promise<BenchRedis> {
  if (url) return { url, stop: () => undefined };
  const bin = CANDIDATES.find((p): p is string => typeof p === 'string' && existsSync(p));
  if (!bin) throw new Error('fleet bench with --nodes > 1 needs Redis: install redis-server (apt-get install redis-server), set FLOCK_REDIS_SERVER, or pass --redis redis://host:port');
  const port = await freeLoopbackPort();
  const child = await startRedisServer(bin, port, ['--maxclients', '10000']);
  return { url: `redis://127.0.0.1:${port}`, stop: () => void child.kill('SIGKILL') };
}
