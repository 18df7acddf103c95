import pg from 'pg';
import { FlockError } from '@flock/protocol';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/** How a PostgreSQL store connects. */
export interface PgConnectOptions {
  /** postgres://user:password@host:port/database (never logged with its password). */
  url: string;
  /** Schema for every table (created if missing; default: the server's search_path, normally `public`). */
  schema?: string;
  /** Pool size (default 4: one round commit, upload claims and registry lookups at a time). */
  poolSize?: number;
  /** Connect timeout, ms (default 5000). */
  connectTimeoutMs?: number;
  /** Errors of background writes and idle connections (default: ignored; the next call reports them). */
  onError?: (err: unknown) => void;
}

/** The URL with its password replaced by `***`: safe to log and to put in error details. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function checkConnectOptions(o: PgConnectOptions): void {
  if (!o || typeof o !== 'object') throw new TypeError('options must be an object with a url');
  if (typeof o.url !== 'string' || o.url.length === 0) throw new TypeError('url must be a non-empty string (postgres://user:password@host:port/database)');
  if (!/^postgres(ql)?:\/\//.test(o.url)) throw new RangeError(`url must start with postgres:// or postgresql://; got ${redactUrl(o.url).slice(0, 40)}`);
  if (o.schema !== undefined && (typeof o.schema !== 'string' || !SCHEMA_NAME.test(o.schema))) {
    throw new RangeError(`schema must be a lowercase SQL identifier ([a-z_][a-z0-9_]*, at most 63 characters); got ${String(o.schema)}`);
  }
  if (o.poolSize !== undefined && (!Number.isSafeInteger(o.poolSize) || o.poolSize < 2)) throw new RangeError(`poolSize must be an integer >= 2; got ${String(o.poolSize)}`);
}

/** The connection settings of `pg` for these options (the schema goes into every session's search_path). */
export function clientConfig(o: PgConnectOptions): pg.ClientConfig {
  return {
    connectionString: o.url,
    connectionTimeoutMillis: o.connectTimeoutMs ?? 5000,
    ...(o.schema ? { options: `-c search_path=${o.schema}` } : {}),
  };
}

export function createPool(o: PgConnectOptions): Pool {
  const pool = new pg.Pool({ ...clientConfig(o), max: o.poolSize ?? 4 });
  // An idle connection the server dropped: without a listener pg would crash the process.
  pool.on('error', (err) => o.onError?.(err));
  return pool;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/**
 * STORE_UNAVAILABLE for errors that mean the database cannot be reached or used (refused,
 * login failed, no such database, server gone); undefined for ordinary SQL errors.
 */
export function unavailable(err: unknown, url: string): FlockError | undefined {
  if (err instanceof FlockError) return undefined;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  let cause: 'connect' | 'auth' | 'missing-database' | 'connection-lost' | undefined;
  if (code && CONNECTION_CODES.has(code)) cause = 'connect';
  else if (code === '28P01' || code === '28000') cause = 'auth';
  else if (code === '3D000') cause = 'missing-database';
  else if (code === '57P01' || code === '57P02' || code === '57P03' || code?.startsWith('08')) cause = 'connection-lost';
  else if (/timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED|Client has encountered a connection error/i.test(message)) cause = /terminated/i.test(message) ? 'connection-lost' : 'connect';
  if (!cause) return undefined;
  const database = redactUrl(url);
  return new FlockError('STORE_UNAVAILABLE', `PostgreSQL at ${database} is unavailable (${cause}): ${message.replaceAll(url, database)}`, {
    cause,
    database,
    ...(code && /^[0-9A-Z]{5}$/.test(code) ? { pgCode: code } : {}),
  });
}

/** A pool wrapper: every query and transaction maps connection failures to STORE_UNAVAILABLE. */
export class Db {
  constructor(
    readonly pool: Pool,
    readonly url: string,
  ) {}

  async query<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, params);
    } catch (err) {
      throw unavailable(err, this.url) ?? err;
    }
  }

  async rows<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
    return (await this.query<R>(text, params)).rows;
  }

  /**
   * Runs `fn` in one transaction (READ COMMITTED; callers take the row locks they need). A
   * throw rolls it back and is rethrown; a lost connection is STORE_UNAVAILABLE (the server
   * rolls back what it had).
   */
  async transaction<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw unavailable(err, this.url) ?? err;
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      const u = unavailable(err, this.url);
      if (u) broken = true;
      throw u ?? err;
    } finally {
      client.release(broken);
    }
  }
}
