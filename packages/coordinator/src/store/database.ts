import type { ModelSpec } from '@flock/protocol';
import type { FlatModel } from '@flock/model';
import type { ModelVersion } from '../model-store.js';
import type { Strategy } from '../strategy.js';
import { migrate } from './migrations.js';
import { federationFromRow, type FederationRow } from './rows.js';
import { SqliteModelStore } from './model-store.js';
import { SqliteClientRegistry } from './registry.js';
import { RoundLog } from './rounds.js';
import { openSqlite, type Sqlite } from './sqlite.js';
import { StrategyStateStore } from './strategy-state.js';
import { CoordinatorLock } from './lock.js';
import type { FederationStore } from './types.js';
import { UploadKeys } from './uploads.js';
import { SqliteServingEvents } from './serving-events.js';

/** The `federation` row: what the database was created for. */
export interface FederationRecord {
  federationId: string;
  /** The settings the federation was created with (informative: a restart may change them). */
  config: Record<string, unknown>;
  spec: ModelSpec;
  topology: Record<string, unknown>;
  createdAt: string;
}

/** What one committed training round writes, in one transaction. */
export interface RoundCommit {
  round: number;
  weights: Float32Array;
  /** Metrics stored with the new model version. */
  modelMetrics: Record<string, number>;
  /** Metrics stored with the round row. */
  roundMetrics: Record<string, number>;
  reporters: readonly string[];
  /** Its state() (and privacy ledger, if any) is saved with the commit. */
  strategy?: Strategy;
}

/**
 * A coordinator's durable state in one SQLite file: the federation, model versions, the round
 * log, strategy state and privacy ledger, upload idempotency keys, enrollment tokens and
 * identities. See docs/explanation/durability.md.
 */
export class FederationDatabase implements FederationStore {
  readonly backend = 'sqlite' as const;
  readonly rounds: RoundLog;
  readonly state: StrategyStateStore;
  readonly uploads: UploadKeys;
  readonly registry: SqliteClientRegistry;
  /** The serving version's audited changes (serving/lifecycle.ts). */
  readonly serving: SqliteServingEvents;
  private store: SqliteModelStore | undefined;
  private closed = false;

  constructor(
    readonly sqlite: Sqlite,
    readonly path: string,
  ) {
    this.rounds = new RoundLog(sqlite);
    this.state = new StrategyStateStore(sqlite);
    this.uploads = new UploadKeys(sqlite);
    this.registry = new SqliteClientRegistry(sqlite);
    this.serving = new SqliteServingEvents(sqlite);
  }

  /** The database file (`:memory:` for a private in-memory database). */
  get location(): string {
    return this.path;
  }

  /** One coordinator per database file (lock.ts); none for `:memory:`. */
  lock(): CoordinatorLock | undefined {
    return this.path === ':memory:' ? undefined : CoordinatorLock.acquire(this.path);
  }

  /** The federation this database belongs to; undefined while fresh. */
  federation(): FederationRecord | undefined {
    const r = this.sqlite.prepare('SELECT * FROM federation WHERE id = 1').get() as FederationRow | undefined;
    return r ? federationFromRow(r) : undefined;
  }

  /**
   * Opens the model store. A fresh database is initialised (in one transaction) with the
   * federation row and `init.model` as version 0, so /v1/models/latest answers from the start;
   * an existing one keeps its own model and `init.model` is ignored (`created: false`).
   */
  openModels(init: { federationId: string; config: Record<string, unknown>; model: FlatModel; keepVersions?: number }): { store: SqliteModelStore; created: boolean } {
    if (!init || typeof init !== 'object' || !init.model) throw new TypeError('init.model is required');
    if (typeof init.federationId !== 'string' || init.federationId.length === 0) throw new TypeError('init.federationId must be a non-empty string');
    const created = this.sqlite
      .transaction((): boolean => {
        if (this.federation()) return false;
        this.sqlite
          .prepare('INSERT INTO federation (id, federation_id, config, spec, topology, created_at) VALUES (1, ?, ?, ?, ?, ?)')
          .run(init.federationId, JSON.stringify(init.config ?? {}), JSON.stringify(init.model.spec), JSON.stringify(init.model.topology), new Date().toISOString());
        SqliteModelStore.initialise(this.sqlite, init.model.spec, init.model.weights);
        return true;
      })
      .immediate();
    const fed = this.federation()!;
    this.store = new SqliteModelStore(this.sqlite, fed.topology, fed.spec, init.keepVersions ?? Infinity);
    return { store: this.store, created };
  }

  /** The latest committed model of an initialised database (topology, spec, weights); undefined while fresh. */
  storedModel(): (FlatModel & { version: number; hash: string }) | undefined {
    const fed = this.federation();
    if (!fed) return undefined;
    const latest = new SqliteModelStore(this.sqlite, fed.topology, fed.spec).latest();
    return { topology: fed.topology, spec: fed.spec, weights: latest.weights, version: latest.version, hash: latest.hash };
  }

  /** The model store (after {@link openModels}). */
  get models(): SqliteModelStore {
    if (!this.store) throw new Error('call openModels() first');
    return this.store;
  }

  /**
   * Commits a training round atomically: the new model version, the round row `committed`,
   * the strategy state and privacy ledger. Either all of it is durable or none of it: a
   * failure anywhere rolls everything back and rethrows. A round that is not `running` (already
   * committed, or abandoned at a restart) cannot commit (STORE_CONFLICT), so no round is
   * applied twice. The IMMEDIATE transaction takes SQLite's write lock first, so two writers
   * on one file commit one after the other and the second sees the first's version.
   */
  commitRound(c: RoundCommit): ModelVersion {
    if (!c || typeof c !== 'object') throw new TypeError('commit must be an object');
    if (!Number.isSafeInteger(c.round) || c.round < 1) throw new RangeError(`commit.round must be a positive integer; got ${String(c.round)}`);
    if (!(c.weights instanceof Float32Array)) throw new TypeError('commit.weights must be a Float32Array');
    if (!Array.isArray(c.reporters)) throw new TypeError('commit.reporters must be an array of client ids');
    const store = this.models;
    const version = this.sqlite
      .transaction((): ModelVersion => {
        const v = store.insertNext(c.weights, c.round, c.modelMetrics);
        this.rounds.finish(c.round, { status: 'committed', committedVersion: v.version, reporters: c.reporters, metrics: c.roundMetrics });
        if (c.strategy) this.state.save(c.strategy, v.version);
        return v;
      })
      .immediate();
    store.publish(version);
    return version;
  }

  /** Runs `fn` in one (IMMEDIATE) transaction. */
  transaction<T>(fn: () => T): T {
    return this.sqlite.transaction(fn).immediate();
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sqlite.close();
  }
}

/**
 * Opens (creating if missing) a coordinator database and brings its schema up to date.
 * `':memory:'` gives a private in-memory database. Throws STORE_INCOMPATIBLE for a database
 * written by a newer Flock.
 */
export function openFederationDatabase(path: string): FederationDatabase {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('path must be a non-empty string (a file path or ":memory:")');
  const sqlite = openSqlite(path);
  try {
    migrate(sqlite);
  } catch (err) {
    sqlite.close();
    throw err;
  }
  return new FederationDatabase(sqlite, path);
}
