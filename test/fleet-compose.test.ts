// examples/fleet/docker-compose.yml without Docker: each coordinator service's `command` is run
// as written (only the addresses and paths a container would have are swapped for loopback
// ones), behind the example nginx.conf, with the key make-key.mjs writes. A compose file whose
// commands no longer parse, or whose nodes cannot form a fleet, fails here.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { flock, type Proc } from './flock-process.js';
import { clusterTestHooks, getJson, startClients } from './fleet-cluster.js';
import { spawnNginx } from './fleet-nginx.js';
import { Redis } from 'ioredis';
import { fleetBinaries, spawnRedis, until } from './fleet-redis.js';
import { freshSchema } from './fleet-pg-cluster.js';

const EXAMPLE = fileURLToPath(new URL('../examples/fleet/', import.meta.url));
const { cleanups } = clusterTestHooks();
const PG = process.env.FLOCK_TEST_POSTGRES_URL;
if (!PG && process.env.FLOCK_REQUIRE_POSTGRES === '1') throw new Error('FLOCK_REQUIRE_POSTGRES=1 but FLOCK_TEST_POSTGRES_URL is not set');
const skip = !PG ? 'FLOCK_TEST_POSTGRES_URL is not set (the compose nodes share a PostgreSQL database)' : !fleetBinaries({ nginx: true }) ? 'redis-server or nginx missing' : undefined;

interface ComposeNode {
  service: string;
  command: string[];
  volumes: string;
}

/** The coordinator services of the compose file: `command` is a JSON flow sequence there. */
function composeNodes(text: string): ComposeNode[] {
  const nodes: ComposeNode[] = [];
  const blocks = text.split(/^ {2}(?=[a-z0-9_-]+:\s*$)/m).slice(1);
  for (const block of blocks) {
    const service = block.slice(0, block.indexOf(':'));
    const command = /^ {4}command: (\[.*\])$/m.exec(block)?.[1];
    if (!command) continue;
    const args = JSON.parse(command) as string[];
    if (args[0] !== 'coordinator') continue;
    nodes.push({ service, command: args, volumes: /^ {4}volumes: (.*)$/m.exec(block)?.[1] ?? '' });
  }
  return nodes;
}

describe.skipIf(skip !== undefined)(`examples/fleet/docker-compose.yml, run as processes${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('three coordinator services as the compose file writes them form one fleet behind the example nginx and train', async () => {
    const compose = readFileSync(path.join(EXAMPLE, 'docker-compose.yml'), 'utf8');
    const nodes = composeNodes(compose);
    expect(nodes.map((n) => n.service)).toEqual(['node1', 'node2', 'node3']);
    const dir = mkdtempSync(path.join(tmpdir(), 'flock-compose-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    // The one-time step of the how-to: the key every node signs with.
    const key = path.join(dir, 'secrets', 'coordinator-key.json');
    execFileSync(process.execPath, [path.join(EXAMPLE, 'make-key.mjs'), key]);
    // The compose file's Redis requires a password, and every node's URL carries it.
    const redisCommand = JSON.parse(/^ {2}redis:\n(?: {4}.*\n)*? {4}command: (\[.*\])$/m.exec(compose)?.[1] ?? '[]') as string[];
    const password = redisCommand[redisCommand.indexOf('--requirepass') + 1];
    expect(redisCommand).toContain('--requirepass');
    const composeRedis = `redis://:${password}@redis:6379`;
    for (const node of nodes) expect(node.command).toContain(composeRedis);
    const redis = await spawnRedis({ password: password! });
    cleanups.push(() => redis.stop());
    // ... and refuses a client without it.
    const anonymous = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 0, retryStrategy: () => null });
    anonymous.on('error', () => undefined); // the refused handshake; the ping's rejection is what is checked
    await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
    anonymous.disconnect();
    // The compose file's database, here a fresh schema of the test server.
    const composePg = /"--postgres", "([^"]+)"/.exec(compose)?.[1];
    expect(composePg).toMatch(/^postgres:\/\/.*@postgres:5432\//);
    const { url: pgUrl } = await freshSchema(PG!, cleanups);
    const procs: Proc[] = [];
    for (const node of nodes) {
      // The container's view: the key mounted into /data, the config at /etc/flock.
      expect(node.volumes).toContain('./secrets/coordinator-key.json:/data/coordinator-key.json');
      expect(node.volumes).toContain('./coordinator.json:/etc/flock/coordinator.json');
      const data = path.join(dir, node.service);
      mkdirSync(data, { recursive: true, mode: 0o700 });
      copyFileSync(key, path.join(data, 'coordinator-key.json'));
      const swaps: Record<string, string> = {
        [composeRedis]: redis.url,
        [composePg!]: pgUrl,
        '0.0.0.0': '127.0.0.1',
        '8080': '0',
        '/data': data,
        '/etc/flock/coordinator.json': path.join(EXAMPLE, 'coordinator.json'),
      };
      const args = node.command.slice(1).map((a) => swaps[a] ?? a);
      // Every container-only value was swapped (the test runs the file's commands, not its own).
      for (const a of args) expect(a).not.toMatch(/redis:6379|@postgres:5432|^\/data|^\/etc\/flock|0\.0\.0\.0/);
      // Shorter than the example's 10 rounds of 2 minutes; nothing else added.
      const proc = flock(['coordinator', ...args, '--rounds', '2']);
      cleanups.push(async () => {
        if (proc.child.exitCode === null && proc.child.signalCode === null) {
          proc.child.kill('SIGKILL');
          await proc.exited();
        }
      });
      procs.push(proc);
    }
    const listening = await Promise.all(procs.map((p) => p.waitFor((l) => l.event === 'listening', 60_000)));
    // One database for the three nodes (the password never appears).
    for (const l of listening) expect(String(l.database)).toMatch(/^postgres:\/\/[^:@]*(:\*\*\*)?@127\.0\.0\.1/);
    const urls = listening.map((l) => String(l.url));
    const nginx = await spawnNginx(path.join(dir, 'nginx'), urls.map((u) => new URL(u).host));
    cleanups.push(() => nginx.stop());
    // coordinator.json asks for 3 clients per round.
    const clients = await startClients(nginx.url, 3, cleanups);
    await Promise.all(clients.map((c) => c.start()));
    await Promise.any(procs.map((p) => p.waitFor((l) => l.event === 'done', 180_000)));
    const commits = procs.flatMap((p) => p.lines.filter((l) => l.event === 'round' && l.status === 'committed').map((l) => Number(l.modelVersion)));
    expect(commits.sort()).toEqual([1, 2]);
    for (const u of urls) await until(async () => (await getJson<{ version: number }>(`${u}/v1/models/latest`)).version === 2, 30_000, `${u} to serve version 2`);
  }, 240_000);
});
