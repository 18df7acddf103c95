import { versionFromRow, type VersionRow } from '../rows.js';
import type { PoolClient } from 'pg';
import { encodeFloat32, hashModel, specSize, type ModelSpec } from '@flock/protocol';
import type { ModelVersion } from '../../model-store.js';
import type { DurableModelStore } from '../types.js';
import type { Db } from './connection.js';
import type { WriteQueue } from './write-queue.js';

/** Versions whose weights are held in memory by default (GET /v1/models/<v>, serving, rollback). */
export const PG_CACHED_VERSIONS = 32;

/**
 * Model versions in PostgreSQL (table `model_versions`, weights as BYTEA of little-endian
 * float32). The ModelStore interface is synchronous (HTTP handlers, serving), so the newest
 * `min(keepVersions, cacheVersions)` versions are held in memory, loaded at open and moved only
 * after a commit transaction committed; older weights stay in the database only. Metrics
 * annotations update memory at once and the database through the store's write queue.
 */
export class PgModelStore implements DurableModelStore {
  private readonly numParams: number;
  private readonly cache = new Map<number, ModelVersion>();
  private newest: ModelVersion;
  private readonly cacheSize: number;

  private constructor(
    private readonly db: Db,
    private readonly queue: WriteQueue,
    readonly topology: Record<string, unknown>,
    readonly spec: ModelSpec,
    private readonly keepVersions: number,
    cacheVersions: number,
    rows: VersionRow[],
  ) {
    this.numParams = specSize(spec);
    this.cacheSize = Math.max(1, Math.min(keepVersions, cacheVersions));
    const versions = rows.map((r) => this.toVersion(r)).filter((v): v is ModelVersion => v !== undefined);
    if (versions.length === 0) throw new RangeError('the database holds no model version; initialise it first');
    for (const v of versions) this.cache.set(v.version, v);
    this.newest = versions.at(-1)!;
  }

  static async load(db: Db, queue: WriteQueue, topology: Record<string, unknown>, spec: ModelSpec, keepVersions = Infinity, cacheVersions = PG_CACHED_VERSIONS): Promise<PgModelStore> {
    if (!(keepVersions >= 1)) throw new RangeError(`keepVersions must be >= 1; got ${keepVersions}`);
    const n = Math.max(1, Math.min(keepVersions, cacheVersions));
    const rows = await db.rows<VersionRow>('SELECT * FROM (SELECT * FROM model_versions WHERE weights IS NOT NULL ORDER BY version DESC LIMIT $1) AS t ORDER BY version', [n]);
    return new PgModelStore(db, queue, topology, spec, keepVersions, cacheVersions, rows);
  }

  /** Writes version 0 of a fresh federation inside the caller's transaction. */
  static async initialise(c: PoolClient, spec: ModelSpec, weights: Float32Array): Promise<void> {
    if (weights.length !== specSize(spec)) throw new RangeError('initialWeights does not match spec');
    await c.query('INSERT INTO model_versions (version, round, hash, weights, metrics, created_at) VALUES (0, 0, $1, $2, $3, $4) ON CONFLICT (version) DO NOTHING', [
      hashModel(spec, weights),
      Buffer.from(encodeFloat32(weights)),
      '{}',
      new Date().toISOString(),
    ]);
  }

  private toVersion(row: VersionRow | undefined): ModelVersion | undefined {
    return versionFromRow(row, this.numParams);
  }

  latest(): ModelVersion {
    return this.newest;
  }

  /** A version held in memory (the newest ones); undefined for older ones. */
  get(version: number): ModelVersion | undefined {
    return this.cache.get(version);
  }

  /**
   * Writes the next version inside the caller's transaction (which holds the commit lock, so
   * MAX(version) + 1 is this writer's alone) and returns it WITHOUT publishing it.
   */
  async insertNext(c: PoolClient, weights: Float32Array, round: number, metrics: Record<string, number>): Promise<ModelVersion> {
    if (weights.length !== this.numParams) throw new RangeError(`weights holds ${weights.length} values; the model has ${this.numParams}`);
    const top = (await c.query<{ v: number }>('SELECT MAX(version)::int AS v FROM model_versions')).rows[0]!.v;
    const entry: ModelVersion = { version: top + 1, hash: hashModel(this.spec, weights), round, weights, metrics, createdAt: new Date().toISOString() };
    await c.query('INSERT INTO model_versions (version, round, hash, weights, metrics, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [
      entry.version,
      round,
      entry.hash,
      Buffer.from(encodeFloat32(weights)),
      JSON.stringify(metrics),
      entry.createdAt,
    ]);
    if (Number.isFinite(this.keepVersions)) {
      await c.query('UPDATE model_versions SET weights = NULL WHERE version <= $1 AND weights IS NOT NULL', [entry.version - this.keepVersions]);
    }
    return entry;
  }

  /** Makes a committed version the latest (after its transaction committed). */
  publish(version: ModelVersion): void {
    if (version.version <= this.newest.version) return;
    this.newest = version;
    this.cache.set(version.version, version);
    for (const v of this.cache.keys()) {
      if (this.cache.size <= this.cacheSize) break;
      this.cache.delete(v); // Map order is insertion order: the oldest go first
    }
  }

  /**
   * Fleet followers on a shared database: loads the versions other nodes committed since this
   * store's latest (in order; the newest `cacheVersions` of them) and publishes them; returns
   * them (none if up to date).
   */
  async refresh(): Promise<ModelVersion[]> {
    // At most the versions this store holds in memory: a node far behind skips the older ones.
    const rows = await this.db.rows<VersionRow>('SELECT * FROM (SELECT * FROM model_versions WHERE version > $1 AND weights IS NOT NULL ORDER BY version DESC LIMIT $2) AS t ORDER BY version', [
      this.newest.version,
      this.cacheSize,
    ]);
    const fresh = rows.map((r) => this.toVersion(r)).filter((v): v is ModelVersion => v !== undefined && v.version > this.newest.version);
    for (const v of fresh) this.publish(v);
    return fresh;
  }

  /** Not available on an asynchronous store: rounds commit with FederationStore.commitRound. */
  commit(): ModelVersion {
    throw new TypeError('the PostgreSQL model store commits through commitRound() (one transaction with the round row)');
  }

  annotate(version: number, metrics: Record<string, number>): void {
    const v = this.cache.get(version);
    if (v) {
      const merged = { ...v.metrics, ...metrics };
      const next = { ...v, metrics: merged };
      this.cache.set(version, next);
      if (version === this.newest.version) this.newest = next;
    }
    const patch = JSON.stringify(metrics);
    this.queue.push(() => this.db.query('UPDATE model_versions SET metrics = (metrics::jsonb || $1::jsonb)::text WHERE version = $2', [patch, version]));
  }

  async history(): Promise<Array<{ version: number; round: number; hash: string; hasWeights: boolean }>> {
    const rows = await this.db.rows<{ version: number; round: number; hash: string; w: boolean }>('SELECT version, round, hash, weights IS NOT NULL AS w FROM model_versions ORDER BY version');
    return rows.map((r) => ({ version: r.version, round: r.round, hash: r.hash, hasWeights: r.w }));
  }
}
