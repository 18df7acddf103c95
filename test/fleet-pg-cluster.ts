import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { generateIdentityKeyPair, toHex } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { flock } from './flock-process.js';
import { clusterTestHooks, fleetNode, type FleetNode } from './fleet-cluster.js';
import { spawnNginx, type NginxProcess } from './fleet-nginx.js';
import { freePort, spawnRedis, type RedisProcess } from './fleet-redis.js';

/** A fleet whose nodes share one PostgreSQL database (`--redis URL --postgres URL`). */
export interface PgCluster {
  dir: string;
  redis: RedisProcess;
  nodes: FleetNode[];
  nginx: NginxProcess | undefined;
  /** The --postgres URL every node uses (a fresh schema through libpq's `options`). */
  pgUrl: string;
  /** A client on that schema (closed by the cleanups). */
  db: pg.Client;
  /** Starts node `i` (0-based) again, on its port and data dir, after a kill. */
  restart(i: number): Promise<FleetNode>;
}

/** `url` with search_path set to `schema` (created first), as an operator would pass it to --postgres. */
export async function freshSchema(url: string, cleanups: Array<() => Promise<void> | void>): Promise<{ url: string; db: pg.Client }> {
  const schema = `flock_fleet_${randomBytes(6).toString('hex')}`;
  const db = new pg.Client({ connectionString: url });
  db.on('error', () => undefined); // a test may restart the server under it
  await db.connect();
  await db.query(`CREATE SCHEMA ${schema}`);
  await db.query(`SET search_path = ${schema}`);
  cleanups.push(async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect().then(
      () => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`),
      () => undefined,
    );
    await c.end().catch(() => undefined);
    await db.end().catch(() => undefined);
  });
  return { url: `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`, db };
}

/**
 * redis-server, `n` `flock coordinator --redis --postgres` processes on fixed free ports (so a
 * restarted node comes back where nginx and the clients look for it), nginx in front.
 */
export async function startPgCluster(n: number, postgresUrl: string, args: string[], cleanups: Array<() => Promise<void> | void>, o: { nginx?: boolean } = {}): Promise<PgCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'flock-fleet-pg-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const { url: pgUrl, db } = await freshSchema(postgresUrl, cleanups);
  const redis = await spawnRedis();
  cleanups.push(() => redis.stop());
  // One coordinator identity for the fleet (clients pin it).
  const key = generateIdentityKeyPair(nodePlatform);
  const ports: number[] = [];
  for (let i = 1; i <= n; i++) {
    mkdirSync(path.join(dir, `n${i}`), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(dir, `n${i}`, 'coordinator-key.json'), JSON.stringify({ publicKey: toHex(key.publicKey), secretKey: toHex(key.secretKey) }) + '\n', { mode: 0o600 });
    ports.push(await freePort());
  }
  const start = async (i: number): Promise<FleetNode> => {
    const nodeId = `n${i + 1}`;
    return await fleetNode(flock(['coordinator', '--redis', redis.url, '--postgres', pgUrl, '--node-id', nodeId, '--port', String(ports[i]), '--data-dir', path.join(dir, nodeId), '--log', 'json', ...args]), nodeId, cleanups);
  };
  // At once: migrations and the first federation row are safe under concurrent start-ups.
  const nodes = await Promise.all(Array.from({ length: n }, (_, i) => start(i)));
  let nginx: NginxProcess | undefined;
  if (o.nginx) {
    nginx = await spawnNginx(path.join(dir, 'nginx'), nodes.map((x) => new URL(x.url).host));
    cleanups.push(() => nginx!.stop());
  }
  const cluster: PgCluster = {
    dir,
    redis,
    nodes,
    nginx,
    pgUrl,
    db,
    async restart(i) {
      const node = await start(i);
      cluster.nodes[i] = node;
      return node;
    },
  };
  return cluster;
}

/** The durable history in PostgreSQL: versions, and rounds with their outcomes. */
export async function pgHistory(on: pg.Client | string): Promise<{ versions: number[]; rounds: Array<{ round: number; status: string; committed_version: number | null; reason: string | null; reporters: string | null }> }> {
  if (typeof on === 'string') {
    // A connection of its own (the server may have restarted under the cluster's).
    const c = new pg.Client({ connectionString: on });
    await c.connect();
    try {
      return await pgHistory(c);
    } finally {
      await c.end();
    }
  }
  const db = on;
  const versions = (await db.query<{ version: number }>('SELECT version FROM model_versions ORDER BY version')).rows.map((r) => r.version);
  const rounds = (await db.query('SELECT round, status, committed_version, reason, reporters FROM rounds ORDER BY round')).rows as Array<{ round: number; status: string; committed_version: number | null; reason: string | null; reporters: string | null }>;
  return { versions, rounds };
}

/** clusterTestHooks (fleet-cluster.ts) for a PgCluster. */
export const pgClusterTestHooks = (): ReturnType<typeof clusterTestHooks<PgCluster>> => clusterTestHooks<PgCluster>();
