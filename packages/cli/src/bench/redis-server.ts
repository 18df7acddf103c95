/**
 * The Redis a multi-node `flock bench fleet` runs on: an existing one (`--redis URL`), or a
 * private `redis-server` on a free loopback port without persistence, stopped at the end.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';

export interface BenchRedis {
  url: string;
  stop(): void;
}

const CANDIDATES = [process.env.FLOCK_REDIS_SERVER, '/usr/bin/redis-server', '/usr/local/bin/redis-server'];

async function freeLoopbackPort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function benchRedis(url?: string): Promise<BenchRedis> {
  if (url) return { url, stop: () => undefined };
  const bin = CANDIDATES.find((p): p is string => typeof p === 'string' && existsSync(p));
  if (!bin) throw new Error('fleet bench with --nodes > 1 needs Redis: install redis-server (apt-get install redis-server), set FLOCK_REDIS_SERVER, or pass --redis redis://host:port');
  const port = await freeLoopbackPort();
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxclients', '10000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 20 s: ${seen.slice(-500)}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${seen.slice(-500)}`));
    });
  });
  child.stdout!.resume();
  return { url: `redis://127.0.0.1:${port}`, stop: () => void child.kill('SIGKILL') };
}
