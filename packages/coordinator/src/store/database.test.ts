import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FlockError, hashModel, type ModelSpec } from '@flock/protocol';
import type { FlatModel } from '@flock/model';
import { FedAvg } from '../strategy.js';
import { FedAdam } from '../strategies/fedadam.js';
import { DifferentiallyPrivate } from '../strategies/differential-privacy.js';
import { aggregate, ctx } from '../strategies/test-support.js';
import { openFederationDatabase, type FederationDatabase } from './database.js';
import { MIGRATIONS, SCHEMA_VERSION, migrate, schemaVersion } from './migrations.js';
import { openSqlite } from './sqlite.js';

const spec: ModelSpec = { format: 'flock-weights/v1', weights: [{ name: 'w', shape: [3], dtype: 'float32' }] };
const model: FlatModel = { topology: { class_name: 'Sequential' }, spec, weights: Float32Array.from([0, 1, -1]) };
const init = { federationId: 'fed-a', config: { rounds: 3 }, model };

const dirs: string[] = [];
const open: FederationDatabase[] = [];
function tmpDb(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'flock-store-'));
  dirs.push(dir);
  return path.join(dir, 'coordinator.db');
}
function openDb(p: string): FederationDatabase {
  const db = openFederationDatabase(p);
  open.push(db);
  return db;
}
afterEach(() => {
  for (const db of open.splice(0)) db.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function startRound(db: FederationDatabase, round: number, modelVersion: number): string {
  const roundId = `${round}-abc`;
  db.rounds.start({ round, roundId, kind: 'train', modelVersion, cohort: ['a', 'b'], startedAt: new Date().toISOString() });
  return roundId;
}

describe('openFederationDatabase', () => {
  it('checks its path', () => {
    expect(() => openFederationDatabase('')).toThrow(TypeError);
    expect(() => openFederationDatabase(42 as unknown as string)).toThrow(/path/);
  });

  it('sets WAL, synchronous=FULL, foreign keys and a busy timeout on a file database', () => {
    const db = openDb(tmpDb());
    expect(db.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.sqlite.pragma('synchronous', { simple: true })).toBe(2);
    expect(db.sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.sqlite.pragma('busy_timeout', { simple: true })).toBeGreaterThan(0);
    expect(schemaVersion(db.sqlite)).toBe(SCHEMA_VERSION);
  });

  it('initialises a fresh database with the initial model as version 0, and keeps its own model on reopen', () => {
    const file = tmpDb();
    const a = openDb(file);
    expect(a.storedModel()).toBeUndefined();
    const { store, created } = a.openModels(init);
    expect(created).toBe(true);
    expect(store.latest().version).toBe(0);
    expect(store.latest().hash).toBe(hashModel(spec, model.weights));
    startRound(a, 1, 0);
    a.commitRound({ round: 1, weights: Float32Array.from([1, 2, 3]), modelMetrics: { clients: 2 }, roundMetrics: {}, reporters: ['a', 'b'] });
    a.close();

    const b = openDb(file);
    const other: FlatModel = { ...model, weights: Float32Array.from([9, 9, 9]) };
    const reopened = b.openModels({ ...init, model: other });
    expect(reopened.created).toBe(false);
    expect(reopened.store.latest().version).toBe(1);
    expect([...reopened.store.latest().weights]).toEqual([1, 2, 3]);
    expect([...reopened.store.get(0)!.weights]).toEqual([0, 1, -1]);
    expect(b.storedModel()!.version).toBe(1);
    expect(b.federation()!.federationId).toBe('fed-a');
  });

  it(':memory: works and keeps nothing', () => {
    const db = openDb(':memory:');
    db.openModels(init);
    expect(db.models.latest().version).toBe(0);
  });
});

describe('migrations', () => {
  it('apply in order inside a transaction and record user_version', () => {
    const sqlite = openSqlite(':memory:');
    expect(migrate(sqlite)).toEqual({ from: 0, to: MIGRATIONS.length });
    expect(migrate(sqlite)).toEqual({ from: MIGRATIONS.length, to: MIGRATIONS.length });
    const extra = [...MIGRATIONS, 'CREATE TABLE later (x INTEGER)'];
    expect(migrate(sqlite, extra)).toEqual({ from: MIGRATIONS.length, to: MIGRATIONS.length + 1 });
    expect(schemaVersion(sqlite)).toBe(MIGRATIONS.length + 1);
    sqlite.close();
  });

  it('a failing migration leaves the database at its old version', () => {
    const sqlite = openSqlite(':memory:');
    migrate(sqlite);
    expect(() => migrate(sqlite, [...MIGRATIONS, 'CREATE TABLE ok (x INTEGER); THIS IS NOT SQL'])).toThrow();
    expect(schemaVersion(sqlite)).toBe(MIGRATIONS.length);
    expect(sqlite.prepare("SELECT name FROM sqlite_master WHERE name = 'ok'").get()).toBeUndefined();
    sqlite.close();
  });

  it('refuses a database from a newer Flock with STORE_INCOMPATIBLE', () => {
    const file = tmpDb();
    const raw = openSqlite(file);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    let caught: unknown;
    try {
      openFederationDatabase(file);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FlockError);
    expect((caught as FlockError).code).toBe('STORE_INCOMPATIBLE');
    expect((caught as FlockError).details).toMatchObject({ schemaVersion: SCHEMA_VERSION + 1, supported: SCHEMA_VERSION });
  });
});

describe('round commit', () => {
  it('writes version, round row and strategy state in one transaction; a round commits once', () => {
    const db = openDb(':memory:');
    db.openModels(init);
    const strategy = new FedAdam({ eta: 0.1 });
    const next = strategy.aggregateFit(model.weights, aggregate([0.1, 0.2, 0.3]), ctx(1));
    startRound(db, 1, 0);
    const v = db.commitRound({ round: 1, weights: next, modelMetrics: { clients: 2 }, roundMetrics: { train_loss: 1 }, reporters: ['a', 'b'], strategy });
    expect(v.version).toBe(1);
    expect(db.models.latest()).toBe(v);
    const rec = db.rounds.get(1)!;
    expect(rec).toMatchObject({ status: 'committed', committedVersion: 1, reporters: ['a', 'b'], metrics: { train_loss: 1 } });
    expect(db.state.load()).toMatchObject({ strategy: strategy.name, modelVersion: 1 });
    // The same round cannot commit again: nothing changes.
    expect(() => db.commitRound({ round: 1, weights: next, modelMetrics: {}, roundMetrics: {}, reporters: [] })).toThrow(/not running/);
    expect(db.models.latest().version).toBe(1);
    expect(db.models.history().map((h) => h.version)).toEqual([0, 1]);
  });

  it('a failure injected inside the transaction leaves no partial state', () => {
    const db = openDb(':memory:');
    db.openModels(init);
    startRound(db, 1, 0);
    // Fail the last write of the commit (the strategy state) from inside SQLite.
    db.sqlite.exec("CREATE TRIGGER fail_state BEFORE INSERT ON strategy_state BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
    const strategy = new FedAdam({ eta: 0.1 });
    strategy.aggregateFit(model.weights, aggregate([0.1, 0.2, 0.3]), ctx(1));
    expect(() => db.commitRound({ round: 1, weights: Float32Array.from([5, 5, 5]), modelMetrics: {}, roundMetrics: {}, reporters: ['a'], strategy })).toThrow(/injected failure/);
    expect(db.models.latest().version).toBe(0);
    expect(db.models.history().map((h) => h.version)).toEqual([0]);
    expect(db.rounds.get(1)!.status).toBe('running');
    expect(db.state.load()).toBeUndefined();
    // A failure in the strategy's own state() is rolled back the same way.
    db.sqlite.exec('DROP TRIGGER fail_state');
    const broken = Object.assign(new FedAvg(), { state: () => { throw new Error('state() failed'); }, restoreState: () => undefined });
    expect(() => db.commitRound({ round: 1, weights: Float32Array.from([5, 5, 5]), modelMetrics: {}, roundMetrics: {}, reporters: ['a'], strategy: broken })).toThrow(/state\(\) failed/);
    expect(db.models.history().map((h) => h.version)).toEqual([0]);
    expect(db.rounds.get(1)!.status).toBe('running');
    // And the round still commits once the fault is gone.
    expect(db.commitRound({ round: 1, weights: Float32Array.from([5, 5, 5]), modelMetrics: {}, roundMetrics: {}, reporters: ['a'], strategy }).version).toBe(1);
  });

  it('abandons running rounds on request and records the reason', () => {
    const db = openDb(':memory:');
    db.openModels(init);
    startRound(db, 1, 0);
    const reason = new FlockError('ROUND_ABANDONED', 'restart', { reason: 'coordinator-restarted' }).toEnvelope();
    expect(db.rounds.abandonRunning(reason).map((r) => r.round)).toEqual([1]);
    expect(db.rounds.get(1)).toMatchObject({ status: 'abandoned', reason: { code: 'ROUND_ABANDONED', details: { reason: 'coordinator-restarted' } } });
    expect(db.rounds.abandonRunning(reason)).toEqual([]);
    expect(db.rounds.lastRound()).toBe(1);
    expect(db.rounds.committedCount()).toBe(0);
  });

  it('keepVersions drops old weights but keeps their history', () => {
    const db = openDb(':memory:');
    db.openModels({ ...init, keepVersions: 2 });
    for (let r = 1; r <= 3; r++) {
      startRound(db, r, r - 1);
      db.commitRound({ round: r, weights: Float32Array.from([r, r, r]), modelMetrics: {}, roundMetrics: {}, reporters: ['a'] });
    }
    expect(db.models.get(0)).toBeUndefined();
    expect(db.models.get(1)).toBeUndefined();
    expect([...db.models.get(2)!.weights]).toEqual([2, 2, 2]);
    expect(db.models.history().map((h) => [h.version, h.hasWeights])).toEqual([
      [0, false],
      [1, false],
      [2, true],
      [3, true],
    ]);
  });
});

describe('strategy state and privacy ledger', () => {
  it('survive a reopen: FedAdam moments and the DP accountant, ledger and inner state', () => {
    const file = tmpDb();
    const make = () => new DifferentiallyPrivate(new FedAdam({ eta: 0.1 }), { mode: 'central', noiseMultiplier: 1, clip: 1, samplingRate: 0.5, delta: 1e-5 });
    const a = openDb(file);
    a.openModels(init);
    const s1 = make();
    let w = model.weights;
    for (let r = 1; r <= 2; r++) {
      s1.createAggregator(3);
      w = s1.aggregateFit(w, aggregate([0.1, 0.2, 0.3]), { ...ctx(r), reporters: r === 1 ? ['a', 'b'] : ['a'] });
      startRound(a, r, r - 1);
      a.commitRound({ round: r, weights: w, modelMetrics: {}, roundMetrics: {}, reporters: [], strategy: s1 });
    }
    a.close();
    const b = openDb(file);
    b.openModels(init);
    const s2 = make();
    expect(b.state.restore(s2)).toBe(true);
    expect(s2.epsilon()).toBe(s1.epsilon());
    expect(s2.ledgerEntries()).toEqual(s1.ledgerEntries());
    expect(s2.state()).toEqual(s1.state());
    expect(b.state.ledger()).toEqual(s1.ledgerEntries());
    expect(b.state.ledger().find((e) => e.clientId === 'a')!.rounds).toBe(2);
  });

  it('refuses to restore the state of another strategy', () => {
    const db = openDb(':memory:');
    db.openModels(init);
    startRound(db, 1, 0);
    db.commitRound({ round: 1, weights: model.weights, modelMetrics: {}, roundMetrics: {}, reporters: [], strategy: new FedAdam() });
    expect(() => db.state.restore(new FedAvg())).toThrow(TypeError);
    expect(() => db.state.restore(new DifferentiallyPrivate(new FedAdam(), { mode: 'central', noiseMultiplier: 1, clip: 1, samplingRate: 1, delta: 1e-5 }))).toThrow(/differential-privacy state|belongs to strategy/);
  });
});

describe('upload idempotency keys', () => {
  it('a re-sent upload is recognised, and the key survives a reopen', () => {
    const file = tmpDb();
    const a = openDb(file);
    a.openModels(init);
    const roundId = startRound(a, 1, 0);
    expect(a.uploads.claim(roundId, 'c1')).toBe(true);
    expect(a.uploads.claim(roundId, 'c1')).toBe(false);
    expect(a.uploads.claim(roundId, 'c2')).toBe(true);
    a.close();
    const b = openDb(file);
    expect(b.uploads.claim(roundId, 'c1')).toBe(false);
    expect(b.uploads.count(roundId)).toBe(2);
    // Keys belong to recorded rounds (foreign key).
    expect(() => b.uploads.claim('no-such-round', 'c1')).toThrow(/FOREIGN KEY/);
  });
});
