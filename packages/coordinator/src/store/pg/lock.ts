import pg from 'pg';
import { FlockError } from '@flock/protocol';
import type { StoreLock } from '../types.js';
import { clientConfig, redactUrl, unavailable, type PgConnectOptions } from './connection.js';
import { ADVISORY_CLASS, COORDINATOR_LOCK } from './migrations.js';

/**
 * One coordinator per PostgreSQL schema: a session-level advisory lock held by a dedicated
 * connection for the coordinator's lifetime. The server releases it when that connection ends,
 * so a crashed or killed coordinator (or a lost network) never leaves a stale lock.
 *
 * Fleet nodes (`mode: 'fleet'`) share the schema: each holds the SAME lock in shared mode, so
 * any number of fleet nodes run together while a single (non-fleet) coordinator, which wants it
 * exclusively, is refused, and the other way round. Among fleet nodes, writes are fenced by the
 * leader's token instead (PgFederationStore.fenceWith).
 */
export class PgCoordinatorLock implements StoreLock {
  private constructor(private readonly client: pg.Client) {}

  static async acquire(o: PgConnectOptions, mode: 'exclusive' | 'fleet' = 'exclusive'): Promise<PgCoordinatorLock> {
    const client = new pg.Client(clientConfig(o));
    client.on('error', (err) => o.onError?.(err));
    let got: boolean;
    try {
      await client.connect();
      const fn = mode === 'fleet' ? 'pg_try_advisory_lock_shared' : 'pg_try_advisory_lock';
      got = (await client.query<{ ok: boolean }>(`SELECT ${fn}(${ADVISORY_CLASS}, ${COORDINATOR_LOCK}) AS ok`)).rows[0]!.ok;
    } catch (err) {
      await client.end().catch(() => undefined);
      throw unavailable(err, o.url) ?? err;
    }
    if (!got) {
      await client.end().catch(() => undefined);
      const database = redactUrl(o.url);
      const why =
        mode === 'fleet'
          ? 'a single (non-fleet) coordinator is running on'
          : 'another coordinator (or a fleet) is running on';
      throw new FlockError('STORE_LOCKED', `${why} ${database}${o.schema ? ` (schema ${o.schema})` : ''}; stop it first, or point --postgres at another database`, {
        database,
        ...(o.schema ? { schema: o.schema } : {}),
        mode,
      });
    }
    return new PgCoordinatorLock(client);
  }

  async release(): Promise<void> {
    // Ending the session releases the advisory lock.
    await this.client.end().catch(() => undefined);
  }
}
