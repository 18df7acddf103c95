import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ModelSpec } from '@flock/protocol';
import type { FlatModel } from '@flock/model';
import { Coordinator, type Logger } from '../coordinator.js';
import { FedAdam } from '../strategies/fedadam.js';
import { aggregate, ctx } from '../strategies/test-support.js';
import { openFederationDatabase } from './database.js';
import { eachBackend, type Place } from './backends.test-support.js';

const spec: ModelSpec = { format: 'flock-weights/v1', weights: [{ name: 'w', shape: [3], dtype: 'float32' }] };
const model: FlatModel = { topology: {}, spec, weights: Float32Array.from([0, 1, -1]) };
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function recorder(): Logger & { lines: Array<{ level: string; msg?: string; obj: unknown }> } {
  const lines: Array<{ level: string; msg?: string; obj: unknown }> = [];
  return { lines, info: (obj, msg) => lines.push({ level: 'info', msg, obj }), warn: (obj, msg) => lines.push({ level: 'warn', msg, obj }), error: (obj, msg) => lines.push({ level: 'error', msg, obj }) };
}

eachBackend('Coordinator with a database', (backend) => {
  let place: Place;
  beforeEach(async () => {
    place = await backend.place();
  });
  afterEach(async () => {
    await place.dispose();
  });

  it('a fresh database starts at version 0; a restart resumes the model, counters and strategy state and abandons the running round', async () => {
    const first = await Coordinator.open({ model, database: await place.open(), strategy: new FedAdam({ eta: 0.1 }), settings: { auth: 'open' } });
    expect(first.store.latest().version).toBe(0);
    expect(first.status()).toMatchObject({ round: 0, trainRoundsCommitted: 0, modelVersion: 0 });
    await first.close();

    // What a coordinator leaves behind when it dies: one committed round and one still running.
    const db = await place.open();
    await db.openModels({ federationId: 'default', config: {}, model });
    const s = new FedAdam({ eta: 0.1 });
    const w1 = s.aggregateFit(model.weights, aggregate([0.1, 0.2, 0.3]), ctx(1));
    await db.rounds.start({ round: 1, roundId: '1-a', kind: 'train', modelVersion: 0, cohort: ['a', 'b'], startedAt: new Date().toISOString() });
    await db.commitRound({ round: 1, weights: w1, modelMetrics: {}, roundMetrics: {}, reporters: ['a', 'b'], strategy: s });
    await db.rounds.start({ round: 2, roundId: '2-b', kind: 'train', modelVersion: 1, cohort: ['a', 'b'], startedAt: new Date().toISOString() });
    await db.uploads.claim('2-b', 'a');
    await db.close();

    const logger = recorder();
    const restored = new FedAdam({ eta: 0.1 });
    const other = { ...model, weights: Float32Array.from([7, 7, 7]) };
    const second = await Coordinator.open({ model: other, database: await place.open(), strategy: restored, logger, settings: { auth: 'open' } });
    try {
      expect(second.store.latest().version).toBe(1);
      expect([...second.store.latest().weights]).toEqual([...w1]);
      expect(second.status()).toMatchObject({ round: 2, trainRoundsCommitted: 1, modelVersion: 1 });
      expect(restored.state()).toEqual(s.state());
      expect(second.rounds.map((r) => [r.round, r.status])).toEqual([
        [1, 'committed'],
        [2, 'abandoned'],
      ]);
      expect(second.rounds[1]!.reason).toMatchObject({ code: 'ROUND_ABANDONED', details: { reason: 'coordinator-restarted' } });
      expect((await second.database!.rounds.get(2))!.status).toBe('abandoned');
      expect(logger.lines.some((l) => l.level === 'warn' && /round abandoned/.test(l.msg ?? ''))).toBe(true);
      expect(logger.lines.some((l) => /model comes from the database/.test(l.msg ?? ''))).toBe(true);
      // The log names the store without its password.
      expect(JSON.stringify(logger.lines)).not.toMatch(/:flock@|password/);
    } finally {
      await second.close();
    }
  });

  it('a database the caller opened stays open after close()', async () => {
    const db = await place.open();
    const c = await Coordinator.open({ model, database: db, settings: { auth: 'open' } });
    await c.close();
    expect(db.isOpen).toBe(true);
    expect(db.models.latest().version).toBe(0);
  });
});

describe('Coordinator with a SQLite path', () => {
  it('opens, resumes and closes the file it was given', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'flock-resume-'));
    dirs.push(dir);
    const file = path.join(dir, 'c.db');
    const first = new Coordinator({ model, database: file, settings: { auth: 'open' } });
    await first.close();
    expect(first.database!.isOpen).toBe(false);
    const db = openFederationDatabase(file);
    expect(db.storedModel()!.version).toBe(0);
    db.close();
  });

  it('new Coordinator() refuses an asynchronous store and names Coordinator.open', async () => {
    const db = { backend: 'postgres', location: 'x', lock: () => Promise.resolve(undefined), close: () => undefined } as unknown as import('./types.js').FederationStore;
    expect(() => new Coordinator({ model, database: db, settings: { auth: 'open' } })).toThrow(/Coordinator\.open/);
  });
});
