import pg from 'pg';
import { FlockError } from '@flock/protocol';
import type { StoreLock } from '../types.js';
import { clientConfig, redactUrl, unavailable, type PgConnectOptions } from './connection.js';
import { ADVISORY_CLASS, COORDINATOR_LOCK } from './migrations.js';

/** How often a lock lost with its connection (a server restart) is taken again. */
const RETAKE_MS = 1000;

/**
 * One coordinator per PostgreSQL schema: a session-level advisory lock held by a dedicated
 * connection for the coordinator's lifetime. The server releases it when that connection ends,
 * so a crashed or killed coordinator (or a lost network) never leaves a stale lock. A server
 * restart ends the connection too: the lock is then taken again as soon as the server answers
 * (another coordinator that got it first is reported to `onError` as STORE_LOCKED).
 *
 * Fleet nodes (`mode: 'fleet'`) share the schema: each holds the SAME lock in shared mode, so
 * any number of fleet nodes run together while a single (non-fleet) coordinator, which wants it
 * exclusively, is refused, and the other way round. Among fleet nodes, writes are fenced by the
 * leader's token instead (PgFederationStore.fenceWith).
 */
export class PgCoordinatorLock implements StoreLock {
  private released = false;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private client: pg.Client,
    private readonly o: PgConnectOptions,
    private readonly mode: 'exclusive' | 'fleet',
  ) {
    this.watch(client);
  }

  static async acquire(o: PgConnectOptions, mode: 'exclusive' | 'fleet' = 'exclusive'): Promise<PgCoordinatorLock> {
    const got = await PgCoordinatorLock.tryLock(o, mode);
    if (!got) throw PgCoordinatorLock.locked(o, mode);
    return new PgCoordinatorLock(got, o, mode);
  }

  /** A connection holding the lock, or undefined when another holder has it. */
  private static async tryLock(o: PgConnectOptions, mode: 'exclusive' | 'fleet'): Promise<pg.Client | undefined> {
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
    if (got) return client;
    await client.end().catch(() => undefined);
    return undefined;
  }

  private static locked(o: PgConnectOptions, mode: 'exclusive' | 'fleet'): FlockError {
    const database = redactUrl(o.url);
    const why = mode === 'fleet' ? 'a single (non-fleet) coordinator is running on' : 'another coordinator (or a fleet) is running on';
    return new FlockError('STORE_LOCKED', `${why} ${database}${o.schema ? ` (schema ${o.schema})` : ''}; stop it first, or point --postgres at another database`, {
      database,
      ...(o.schema ? { schema: o.schema } : {}),
      mode,
    });
  }

  private watch(client: pg.Client): void {
    client.once('end', () => {
      if (!this.released && client === this.client) this.retake();
    });
  }

  private retake(): void {
    this.timer = setTimeout(() => {
      void PgCoordinatorLock.tryLock(this.o, this.mode).then(
        (c) => {
          if (this.released) return void c?.end().catch(() => undefined);
          if (!c) {
            this.o.onError?.(PgCoordinatorLock.locked(this.o, this.mode));
            return this.retake();
          }
          this.client = c;
          this.watch(c);
        },
        () => this.retake(), // still away
      );
    }, RETAKE_MS);
    this.timer.unref();
  }

  async release(): Promise<void> {
    this.released = true;
    clearTimeout(this.timer);
    // Ending the session releases the advisory lock.
    await this.client.end().catch(() => undefined);
  }
}
