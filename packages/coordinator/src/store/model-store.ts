import { encodeFloat32, hashModel, specSize, type ModelSpec } from '@flock/protocol';
import { versionFromRow, type VersionRow } from './rows.js';
import type { ModelStore, ModelVersion } from '../model-store.js';
import type { Sqlite } from './sqlite.js';

/**
 * Model versions in SQLite (table `model_versions`; weights as little-endian float32 bytes).
 * The latest version is cached in memory, and the cache only moves after the writing
 * transaction committed, so a rolled-back commit never shows. Weights of versions older than
 * the newest `keepVersions` are dropped from disk (their hash and metrics stay).
 */
export class SqliteModelStore implements ModelStore {
  private cached: ModelVersion;
  private readonly numParams: number;

  constructor(
    private readonly db: Sqlite,
    readonly topology: Record<string, unknown>,
    readonly spec: ModelSpec,
    private readonly keepVersions = Infinity,
  ) {
    if (!(keepVersions >= 1)) throw new RangeError(`keepVersions must be >= 1; got ${keepVersions}`);
    this.numParams = specSize(spec);
    const row = db.prepare('SELECT * FROM model_versions ORDER BY version DESC LIMIT 1').get() as VersionRow | undefined;
    if (!row) throw new RangeError('the database holds no model version; initialise it first');
    this.cached = this.toVersion(row)!;
  }

  /** Writes version 0 (a fresh federation); returns false if a version 0 already exists. */
  static initialise(db: Sqlite, spec: ModelSpec, weights: Float32Array): boolean {
    if (weights.length !== specSize(spec)) throw new RangeError('initialWeights does not match spec');
    const r = db
      .prepare('INSERT OR IGNORE INTO model_versions (version, round, hash, weights, metrics, created_at) VALUES (0, 0, ?, ?, ?, ?)')
      .run(hashModel(spec, weights), Buffer.from(encodeFloat32(weights)), '{}', new Date().toISOString());
    return r.changes === 1;
  }

  private toVersion(row: VersionRow | undefined): ModelVersion | undefined {
    return versionFromRow(row, this.numParams);
  }

  latest(): ModelVersion {
    return this.cached;
  }

  get(version: number): ModelVersion | undefined {
    if (version === this.cached.version) return this.cached;
    if (!Number.isSafeInteger(version) || version < 0) return undefined;
    return this.toVersion(this.db.prepare('SELECT * FROM model_versions WHERE version = ?').get(version) as VersionRow | undefined);
  }

  /**
   * Writes the next version inside the caller's transaction and returns it WITHOUT making it
   * the latest: call {@link publish} once the transaction has committed.
   */
  insertNext(weights: Float32Array, round: number, metrics: Record<string, number>): ModelVersion {
    if (weights.length !== this.numParams) throw new RangeError(`weights holds ${weights.length} values; the model has ${this.numParams}`);
    const top = this.db.prepare('SELECT MAX(version) AS v FROM model_versions').get() as { v: number };
    const entry: ModelVersion = { version: top.v + 1, hash: hashModel(this.spec, weights), round, weights, metrics, createdAt: new Date().toISOString() };
    this.db
      .prepare('INSERT INTO model_versions (version, round, hash, weights, metrics, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(entry.version, round, entry.hash, Buffer.from(encodeFloat32(weights)), JSON.stringify(metrics), entry.createdAt);
    if (Number.isFinite(this.keepVersions)) {
      this.db.prepare('UPDATE model_versions SET weights = NULL WHERE version <= ? AND weights IS NOT NULL').run(entry.version - this.keepVersions);
    }
    return entry;
  }

  /** Makes a committed version the latest (after its transaction committed). */
  publish(version: ModelVersion): void {
    if (version.version > this.cached.version) this.cached = version;
  }

  commit(weights: Float32Array, round: number, metrics: Record<string, number>): ModelVersion {
    const v = this.db.transaction(() => this.insertNext(weights, round, metrics)).immediate();
    this.publish(v);
    return v;
  }

  annotate(version: number, metrics: Record<string, number>): void {
    const row = this.db.prepare('SELECT metrics FROM model_versions WHERE version = ?').get(version) as { metrics: string } | undefined;
    if (!row) return;
    const merged = { ...(JSON.parse(row.metrics) as Record<string, number>), ...metrics };
    this.db.prepare('UPDATE model_versions SET metrics = ? WHERE version = ?').run(JSON.stringify(merged), version);
    if (version === this.cached.version) this.cached = { ...this.cached, metrics: merged };
  }

  /** Every version's number, round and hash, oldest first (weights not loaded). */
  history(): Array<{ version: number; round: number; hash: string; hasWeights: boolean }> {
    return (this.db.prepare('SELECT version, round, hash, weights IS NOT NULL AS w FROM model_versions ORDER BY version').all() as Array<{ version: number; round: number; hash: string; w: number }>).map(
      (r) => ({ version: r.version, round: r.round, hash: r.hash, hasWeights: r.w === 1 }),
    );
  }
}
