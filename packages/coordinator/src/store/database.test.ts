import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FlockError, hashModel, type ModelSpec } from '@flock/protocol';
import type { FlatModel } from '@flock/model';
import { FedAvg } from '../strategy.js';
import { FedAdam } from '../strategies/fedadam.js';
import { DifferentiallyPrivate } from '../strategies/differential-privacy.js';
import { aggregate, ctx } from '../strategies/test-support.js';
import { openFederationDatabase, type FederationDatabase } from './database.js';
import { eachBackend, requirePostgresTest, type Place } from './backends.test-support.js';
import type { FederationStore } from './types.js';
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

async function startRound(db: FederationStore, round: number, modelVersion: number): Promise<string> {
  const roundId = `${round}-abc`;
  await db.rounds.start({ round, roundId, kind: 'train', modelVersion, cohort: ['a', 'b'], startedAt: new Date().toISOString() });
  return roundId;
}

requirePostgresTest();

describe('openFederationDatabase (SQLite)', () => {
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

  it(':memory: works and keeps nothing', () => {
    const db = openDb(':memory:');
    db.openModels(init);
    expect(db.models.latest().version).toBe(0);
  });
});

describe('migrations (SQLite)', () => {
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

eachBackend('FederationStore', (backend) => {
  let place: Place;
  beforeEach(async () => {
    place = await backend.place();
  });
  afterEach(async () => {
    await place.dispose();
  });

  it('initialises a fresh database with the initial model as version 0, and keeps its own model on reopen', async () => {
    const a = await place.open();
    expect(await a.storedModel()).toBeUndefined();
    const { store, created } = await a.openModels(init);
    expect(created).toBe(true);
    expect(store.latest().version).toBe(0);
    expect(store.latest().hash).toBe(hashModel(spec, model.weights));
    await startRound(a, 1, 0);
    await a.commitRound({ round: 1, weights: Float32Array.from([1, 2, 3]), modelMetrics: { clients: 2 }, roundMetrics: {}, reporters: ['a', 'b'] });
    await a.close();

    const b = await place.open();
    const other: FlatModel = { ...model, weights: Float32Array.from([9, 9, 9]) };
    const reopened = await b.openModels({ ...init, model: other });
    expect(reopened.created).toBe(false);
    expect(reopened.store.latest().version).toBe(1);
    expect([...reopened.store.latest().weights]).toEqual([1, 2, 3]);
    expect([...reopened.store.get(0)!.weights]).toEqual([0, 1, -1]);
    expect((await b.storedModel())!.version).toBe(1);
    expect((await b.federation())!.federationId).toBe('fed-a');
  });

  it('writes version, round row and strategy state in one transaction; a round commits once (STORE_CONFLICT)', async () => {
    const db = await place.open();
    await db.openModels(init);
    const strategy = new FedAdam({ eta: 0.1 });
    const next = strategy.aggregateFit(model.weights, aggregate([0.1, 0.2, 0.3]), ctx(1));
    await startRound(db, 1, 0);
    const v = await db.commitRound({ round: 1, weights: next, modelMetrics: { clients: 2 }, roundMetrics: { train_loss: 1 }, reporters: ['a', 'b'], strategy });
    expect(v.version).toBe(1);
    expect(db.models.latest()).toBe(v);
    const rec = (await db.rounds.get(1))!;
    expect(rec).toMatchObject({ status: 'committed', committedVersion: 1, reporters: ['a', 'b'], metrics: { train_loss: 1 } });
    expect(await db.state.load()).toMatchObject({ strategy: strategy.name, modelVersion: 1 });
    // The same round cannot commit again: nothing changes.
    const again = await Promise.resolve()
      .then(() => db.commitRound({ round: 1, weights: next, modelMetrics: {}, roundMetrics: {}, reporters: [] }))
      .catch((err: unknown) => err);
    expect(again).toBeInstanceOf(FlockError);
    expect(again).toMatchObject({ code: 'STORE_CONFLICT', details: { round: 1, status: 'committed' } });
    expect((again as Error).message).toMatch(/not running/);
    expect(db.models.latest().version).toBe(1);
    expect((await db.models.history()).map((h) => h.version)).toEqual([0, 1]);
  });

  it('a failure injected inside the transaction leaves no partial state', async () => {
    const db = await place.open();
    await db.openModels(init);
    await startRound(db, 1, 0);
    // Fail the last write of the commit (the strategy state) from inside the database.
    await place.fault('strategy_state', 'INSERT', 'injected failure');
    const strategy = new FedAdam({ eta: 0.1 });
    strategy.aggregateFit(model.weights, aggregate([0.1, 0.2, 0.3]), ctx(1));
    const fail = async (s: FedAvg | FedAdam): Promise<unknown> => Promise.resolve().then(() => db.commitRound({ round: 1, weights: Float32Array.from([5, 5, 5]), modelMetrics: {}, roundMetrics: {}, reporters: ['a'], strategy: s })).catch((e: unknown) => e);
    expect(String(await fail(strategy))).toMatch(/injected failure/);
    expect(db.models.latest().version).toBe(0);
    expect((await db.models.history()).map((h) => h.version)).toEqual([0]);
    expect((await db.rounds.get(1))!.status).toBe('running');
    expect(await db.state.load()).toBeUndefined();
    // A failure in the strategy's own state() is rolled back the same way.
    await place.clearFault('strategy_state', 'INSERT');
    const broken = Object.assign(new FedAvg(), { state: () => { throw new Error('state() failed'); }, restoreState: () => undefined });
    expect(String(await fail(broken))).toMatch(/state\(\) failed/);
    expect((await db.models.history()).map((h) => h.version)).toEqual([0]);
    expect((await db.rounds.get(1))!.status).toBe('running');
    // And the round still commits once the fault is gone.
    expect((await db.commitRound({ round: 1, weights: Float32Array.from([5, 5, 5]), modelMetrics: {}, roundMetrics: {}, reporters: ['a'], strategy })).version).toBe(1);
  });

  it('abandons running rounds on request and records the reason', async () => {
    const db = await place.open();
    await db.openModels(init);
    await startRound(db, 1, 0);
    const reason = new FlockError('ROUND_ABANDONED', 'restart', { reason: 'coordinator-restarted' }).toEnvelope();
    const abandoned = await db.rounds.abandonRunning(reason);
    expect(abandoned.map((r) => [r.round, r.status])).toEqual([[1, 'running']]);
    expect(await db.rounds.get(1)).toMatchObject({ status: 'abandoned', reason: { code: 'ROUND_ABANDONED', details: { reason: 'coordinator-restarted' } } });
    expect(await db.rounds.abandonRunning(reason)).toEqual([]);
    expect(await db.rounds.lastRound()).toBe(1);
    expect(await db.rounds.committedCount()).toBe(0);
    expect((await db.rounds.byId('1-abc'))!.round).toBe(1);
    expect((await db.rounds.recent(10)).map((r) => r.round)).toEqual([1]);
    // A round ends once: finishing it again is STORE_CONFLICT.
    const again = await Promise.resolve().then(() => db.rounds.finish(1, { status: 'completed' })).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: 'STORE_CONFLICT' });
  });

  it('keepVersions drops old weights but keeps their history', async () => {
    const db = await place.open();
    await db.openModels({ ...init, keepVersions: 2 });
    for (let r = 1; r <= 3; r++) {
      await startRound(db, r, r - 1);
      await db.commitRound({ round: r, weights: Float32Array.from([r, r, r]), modelMetrics: {}, roundMetrics: {}, reporters: ['a'] });
    }
    expect(db.models.get(0)).toBeUndefined();
    expect(db.models.get(1)).toBeUndefined();
    expect([...db.models.get(2)!.weights]).toEqual([2, 2, 2]);
    expect((await db.models.history()).map((h) => [h.version, h.hasWeights])).toEqual([
      [0, false],
      [1, false],
      [2, true],
      [3, true],
    ]);
  });

  it('weights round-trip bit-exactly (float32 bytes, not JSON numbers); metric annotations survive a reopen', async () => {
    const weights = Float32Array.from([0.1, -0, 3.4028234663852886e38, 1.401298464324817e-45]);
    const m4: FlatModel = { topology: {}, spec: { format: 'flock-weights/v1', weights: [{ name: 'w', shape: [4], dtype: 'float32' }] }, weights };
    const a = await place.open();
    await a.openModels({ ...init, model: m4 });
    a.models.annotate(0, { server_accuracy: 0.5 });
    expect(a.models.latest().metrics).toEqual({ server_accuracy: 0.5 });
    await a.close();
    const b = await place.open();
    const { store } = await b.openModels({ ...init, model: m4 });
    expect(new Uint8Array(store.latest().weights.buffer)).toEqual(new Uint8Array(weights.buffer));
    expect(Object.is(store.latest().weights[1], -0)).toBe(true);
    expect(store.latest().metrics).toEqual({ server_accuracy: 0.5 });
  });

  it('serving events are appended in order and read back after a reopen', async () => {
    const a = await place.open();
    const e = { at: '2026-01-01T00:00:00.000Z', action: 'initial' as const, version: 0, serving: 0, stack: [0], policy: 'always', actor: 'startup', reason: 'first', metrics: {} };
    expect(a.serving.append(e).id).toBe(1);
    expect(a.serving.append({ ...e, action: 'promote', version: 1, serving: 1, stack: [0, 1] }).id).toBe(2);
    expect(a.serving.last()!.serving).toBe(1);
    await a.close();
    const b = await place.open();
    expect(b.serving.recent(10).map((x) => [x.id, x.action, x.stack])).toEqual([
      [2, 'promote', [0, 1]],
      [1, 'initial', [0]],
    ]);
  });
});

eachBackend('strategy state and privacy ledger', (backend) => {
  let place: Place;
  beforeEach(async () => {
    place = await backend.place();
  });
  afterEach(async () => {
    await place.dispose();
  });

  it('survive a reopen: FedAdam moments and the DP accountant, ledger and inner state', async () => {
    const make = () => new DifferentiallyPrivate(new FedAdam({ eta: 0.1 }), { mode: 'central', noiseMultiplier: 1, clip: 1, samplingRate: 0.5, delta: 1e-5 });
    const a = await place.open();
    await a.openModels(init);
    const s1 = make();
    let w = model.weights;
    for (let r = 1; r <= 2; r++) {
      s1.createAggregator(3);
      w = s1.aggregateFit(w, aggregate([0.1, 0.2, 0.3]), { ...ctx(r), reporters: r === 1 ? ['a', 'b'] : ['a'] });
      await startRound(a, r, r - 1);
      await a.commitRound({ round: r, weights: w, modelMetrics: {}, roundMetrics: {}, reporters: [], strategy: s1 });
    }
    await a.close();
    const b = await place.open();
    await b.openModels(init);
    const s2 = make();
    expect(await b.state.restore(s2)).toBe(true);
    expect(s2.epsilon()).toBe(s1.epsilon());
    expect(s2.ledgerEntries()).toEqual(s1.ledgerEntries());
    expect(s2.state()).toEqual(s1.state());
    expect(await b.state.ledger()).toEqual(s1.ledgerEntries());
    expect((await b.state.ledger()).find((e) => e.clientId === 'a')!.rounds).toBe(2);
  });

  it('refuses to restore the state of another strategy', async () => {
    const db = await place.open();
    await db.openModels(init);
    await startRound(db, 1, 0);
    await db.commitRound({ round: 1, weights: model.weights, modelMetrics: {}, roundMetrics: {}, reporters: [], strategy: new FedAdam() });
    const refused = (s: FedAvg | DifferentiallyPrivate): Promise<unknown> => Promise.resolve().then(() => db.state.restore(s)).catch((e: unknown) => e);
    expect(await refused(new FedAvg())).toBeInstanceOf(TypeError);
    expect(String(await refused(new DifferentiallyPrivate(new FedAdam(), { mode: 'central', noiseMultiplier: 1, clip: 1, samplingRate: 1, delta: 1e-5 })))).toMatch(/differential-privacy state|belongs to strategy/);
  });
});

eachBackend('upload idempotency keys', (backend) => {
  let place: Place;
  beforeEach(async () => {
    place = await backend.place();
  });
  afterEach(async () => {
    await place.dispose();
  });

  it('a re-sent upload is recognised, and the key survives a reopen', async () => {
    const a = await place.open();
    await a.openModels(init);
    const roundId = await startRound(a, 1, 0);
    expect(await a.uploads.claim(roundId, 'c1')).toBe(true);
    expect(await a.uploads.claim(roundId, 'c1')).toBe(false);
    expect(await a.uploads.claim(roundId, 'c2')).toBe(true);
    await a.close();
    const b = await place.open();
    expect(await b.uploads.claim(roundId, 'c1')).toBe(false);
    expect(await b.uploads.has(roundId, 'c2')).toBe(true);
    expect(await b.uploads.count(roundId)).toBe(2);
    // Keys belong to recorded rounds (foreign key).
    const orphan = await Promise.resolve().then(() => b.uploads.claim('no-such-round', 'c1')).catch((e: unknown) => e);
    expect(String(orphan)).toMatch(/FOREIGN KEY|foreign key/);
  });
});
