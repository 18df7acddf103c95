import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ModelSpec } from '@flock/protocol';
import type { FlatModel } from '@flock/model';
import { Coordinator, type Logger } from '../coordinator.js';
import { FedAdam } from '../strategies/fedadam.js';
import { aggregate, ctx } from '../strategies/test-support.js';
import { openFederationDatabase } from './database.js';

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

describe('Coordinator with a database', () => {
  it('a fresh database starts at version 0; a restart resumes the model, counters and strategy state and abandons the running round', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'flock-resume-'));
    dirs.push(dir);
    const file = path.join(dir, 'c.db');
    const first = new Coordinator({ model, database: file, strategy: new FedAdam({ eta: 0.1 }), settings: { auth: 'open' } });
    expect(first.store.latest().version).toBe(0);
    expect(first.status()).toMatchObject({ round: 0, trainRoundsCommitted: 0, modelVersion: 0 });
    await first.close();

    // What a coordinator leaves behind when it dies: one committed round and one still running.
    const db = openFederationDatabase(file);
    db.openModels({ federationId: 'default', config: {}, model });
    const s = new FedAdam({ eta: 0.1 });
    const w1 = s.aggregateFit(model.weights, aggregate([0.1, 0.2, 0.3]), ctx(1));
    db.rounds.start({ round: 1, roundId: '1-a', kind: 'train', modelVersion: 0, cohort: ['a', 'b'], startedAt: new Date().toISOString() });
    db.commitRound({ round: 1, weights: w1, modelMetrics: {}, roundMetrics: {}, reporters: ['a', 'b'], strategy: s });
    db.rounds.start({ round: 2, roundId: '2-b', kind: 'train', modelVersion: 1, cohort: ['a', 'b'], startedAt: new Date().toISOString() });
    db.uploads.claim('2-b', 'a');
    db.close();

    const logger = recorder();
    const restored = new FedAdam({ eta: 0.1 });
    const other = { ...model, weights: Float32Array.from([7, 7, 7]) };
    const second = new Coordinator({ model: other, database: file, strategy: restored, logger, settings: { auth: 'open' } });
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
    } finally {
      await second.close();
    }
    expect(second.database!.isOpen).toBe(false);
  });

  it('a database the caller opened stays open after close()', async () => {
    const db = openFederationDatabase(':memory:');
    const c = new Coordinator({ model, database: db, settings: { auth: 'open' } });
    await c.close();
    expect(db.isOpen).toBe(true);
    expect(db.models.latest().version).toBe(0);
    db.close();
  });
});
