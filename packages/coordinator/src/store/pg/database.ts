import { FlockError, type ErrorEnvelope, type ModelSpec } from '@flock/protocol';
import { federationFromRow, type FederationRow } from '../rows.js';
import type { FlatModel } from '@flock/model';
import type { ModelVersion } from '../../model-store.js';
import type { FederationRecord, RoundCommit } from '../database.js';
import type { FederationStore } from '../types.js';
import { checkConnectOptions, createPool, Db, redactUrl, type PgConnectOptions } from './connection.js';
import { PgCoordinatorLock } from './lock.js';
import { migratePg } from './migrations.js';
import { PgModelStore } from './model-store.js';
import { PgClientRegistry } from './registry.js';
import { PgRoundLog, finishRound } from './rounds.js';
import { checkFence, claimFence, type FenceClaim } from './fence.js';
import { PgServingEvents } from './serving-events.js';
import { PgStrategyState, PgUploadKeys, saveSnapshot, snapshotOf } from './state.js';
import { WriteQueue } from './write-queue.js';

/**
 * A coordinator's durable state in PostgreSQL: the tables of the SQLite store, for fleets of
 * coordinator nodes on one database. See docs/explanation/durability.md.
 *
 * The round commit runs at READ COMMITTED with row locks: it first locks the one `federation`
 * row (SELECT ... FOR UPDATE), which serialises every commit on this database, then checks
 * the round row is still `running`. A second writer waits for the first to finish, then
 * reads the committed state (READ COMMITTED takes a fresh snapshot per statement): it finds
 * the round no longer running and fails with STORE_CONFLICT, or computes the next version
 * after the winner's. Versions stay consecutive and each round commits exactly once, and
 * nobody needs to retry serialisation failures as SERIALIZABLE would require.
 */
export class PgFederationStore implements FederationStore {
  readonly backend = 'postgres' as const;
  readonly location: string;
  readonly rounds: PgRoundLog;
  readonly state: PgStrategyState;
  readonly uploads: PgUploadKeys;
  readonly registry: PgClientRegistry;
  private store: PgModelStore | undefined;
  private closed = false;
  /** Fleet mode: the token the leader writes with (undefined: this node does not lead). */
  private fencing: (() => number | undefined) | undefined;

  private constructor(
    private readonly db: Db,
    private readonly options: PgConnectOptions,
    private readonly queue: WriteQueue,
    readonly serving: PgServingEvents,
  ) {
    this.location = options.schema ? `${redactUrl(options.url)} (schema ${options.schema})` : redactUrl(options.url);
    this.rounds = new PgRoundLog(db, () => this.fencing);
    this.state = new PgStrategyState(db);
    this.uploads = new PgUploadKeys(db);
    this.registry = new PgClientRegistry(db);
  }

  /** @internal use {@link openPostgresStore} */
  static async open(o: PgConnectOptions): Promise<PgFederationStore> {
    checkConnectOptions(o);
    const db = new Db(createPool(o), o.url);
    try {
      if (o.schema) await db.query(`CREATE SCHEMA IF NOT EXISTS ${o.schema}`);
      await migratePg(db);
      const queue = new WriteQueue(o.onError);
      return new PgFederationStore(db, o, queue, await PgServingEvents.load(db, queue));
    } catch (err) {
      await db.pool.end().catch(() => undefined);
      throw err;
    }
  }

  /** The pool (tests, operators' checks). */
  get pool(): Db['pool'] {
    return this.db.pool;
  }

  async federation(): Promise<FederationRecord | undefined> {
    const r = (await this.db.rows<FederationRow>('SELECT * FROM federation WHERE id = 1'))[0];
    if (!r) return undefined;
    return federationFromRow(r);
  }

  /** As FederationDatabase.openModels; two nodes initialising at once create one federation row and one version 0. */
  async openModels(init: { federationId: string; config: Record<string, unknown>; model: FlatModel; keepVersions?: number }): Promise<{ store: PgModelStore; created: boolean }> {
    if (!init || typeof init !== 'object' || !init.model) throw new TypeError('init.model is required');
    if (typeof init.federationId !== 'string' || init.federationId.length === 0) throw new TypeError('init.federationId must be a non-empty string');
    const created = await this.db.transaction(async (c) => {
      const r = await c.query('INSERT INTO federation (id, federation_id, config, spec, topology, created_at) VALUES (1, $1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING', [
        init.federationId,
        JSON.stringify(init.config ?? {}),
        JSON.stringify(init.model.spec),
        JSON.stringify(init.model.topology),
        new Date().toISOString(),
      ]);
      if (r.rowCount !== 1) return false;
      await PgModelStore.initialise(c, init.model.spec, init.model.weights);
      return true;
    });
    const fed = (await this.federation())!;
    this.store = await PgModelStore.load(this.db, this.queue, fed.topology, fed.spec, init.keepVersions ?? Infinity);
    return { store: this.store, created };
  }

  async storedModel(): Promise<(FlatModel & { version: number; hash: string }) | undefined> {
    const fed = await this.federation();
    if (!fed) return undefined;
    const latest = (await PgModelStore.load(this.db, this.queue, fed.topology, fed.spec, Infinity, 1)).latest();
    return { topology: fed.topology, spec: fed.spec, weights: latest.weights, version: latest.version, hash: latest.hash };
  }

  get models(): PgModelStore {
    if (!this.store) throw new Error('call openModels() first');
    return this.store;
  }

  /**
   * Commits a training round in ONE transaction: the new model version, the round row
   * `committed`, the strategy state and the privacy ledger. STORE_CONFLICT (nothing written)
   * when the round is not running any more: another writer committed or abandoned it first.
   */
  async commitRound(c: RoundCommit): Promise<ModelVersion> {
    if (!c || typeof c !== 'object') throw new TypeError('commit must be an object');
    if (!Number.isSafeInteger(c.round) || c.round < 1) throw new RangeError(`commit.round must be a positive integer; got ${String(c.round)}`);
    if (!(c.weights instanceof Float32Array)) throw new TypeError('commit.weights must be a Float32Array');
    if (!Array.isArray(c.reporters)) throw new TypeError('commit.reporters must be an array of client ids');
    const store = this.models;
    // Captured now: the strategy may move on while the transaction waits for its locks.
    const snapshot = c.strategy ? snapshotOf(c.strategy) : undefined;
    const weights = c.weights.slice();
    const version = await this.db.transaction(async (tx) => {
      // The commit lock: one commit at a time on this database (see the class comment).
      await tx.query('SELECT id FROM federation WHERE id = 1 FOR UPDATE');
      // Fleet: a deposed leader (a smaller token than one already claimed) writes nothing.
      if (this.fencing) await checkFence(tx, this.fencing(), `commit round ${c.round}`, true);
      const row = (await tx.query<{ status: string }>('SELECT status FROM rounds WHERE round = $1 FOR UPDATE', [c.round])).rows[0];
      if (row?.status !== 'running') {
        throw new FlockError('STORE_CONFLICT', `round ${c.round} is not running (${row?.status ?? 'not recorded'}); a round ends exactly once`, { round: c.round, status: row?.status ?? null });
      }
      const v = await store.insertNext(tx, weights, c.round, c.modelMetrics);
      await finishRound(tx, c.round, { status: 'committed', committedVersion: v.version, reporters: c.reporters, metrics: c.roundMetrics });
      if (snapshot) await saveSnapshot(tx, snapshot, v.version, v.createdAt);
      return v;
    });
    store.publish(version);
    return version;
  }

  /** One coordinator per schema, or any number of fleet nodes sharing it (pg/lock.ts). */
  lock(mode: 'exclusive' | 'fleet' = 'exclusive'): Promise<PgCoordinatorLock> {
    return PgCoordinatorLock.acquire(this.options, mode);
  }

  /**
   * Fleet mode (docs/explanation/fleet.md): from now on round starts and round commits carry
   * `token()`, the fencing token of this node's leader lease (undefined while it does not lead),
   * and are refused (ROUND_ABANDONED, details.reason 'lease-lost', details.fenced) when it is missing or smaller than the highest token the
   * federation row has seen.
   */
  fenceWith(token: () => number | undefined): void {
    if (typeof token !== 'function') throw new TypeError('token must be a function returning the fencing token');
    this.fencing = token;
  }

  /**
   * A new fleet leader takes over the database with its fencing token, in ONE transaction: the
   * federation row's token becomes `token` (refused the same way if a larger one is there: this node was
   * deposed meanwhile), and rounds left `running` by an earlier leader are abandoned with
   * `reason` (their leader can no longer commit them). Returns where the rounds go on from.
   */
  claimFence(token: number, reason: ErrorEnvelope): Promise<FenceClaim> {
    return claimFence(this.db, token, reason);
  }

  /** Resolves when the queued background writes (annotations, serving events) are written. */
  flush(): Promise<void> {
    return this.queue.flush();
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Writes what is queued, then closes the pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.queue.flush();
    } finally {
      await this.db.pool.end();
    }
  }
}

/**
 * Opens (creating the schema if missing) a PostgreSQL coordinator store and brings it up to
 * date. Throws STORE_UNAVAILABLE when the server cannot be reached or refuses the login, and
 * STORE_INCOMPATIBLE for a schema written by a newer Flock.
 */
export function openPostgresStore(options: PgConnectOptions): Promise<PgFederationStore> {
  return PgFederationStore.open(options);
}
