import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ModelSpec } from '@flock/protocol';
import type { FlatModel } from '@flock/model';
import type { AuditEvent } from '../admin/audit.js';
import { openFederationDatabase, type FederationDatabase } from '../store/database.js';
import { ServingLifecycle } from './lifecycle.js';
import { servingSettingsSchema, type ServingSettings } from './settings.js';

const spec: ModelSpec = { format: 'flock-weights/v1', weights: [{ name: 'w', shape: [2], dtype: 'float32' }] };
const model: FlatModel = { topology: { class_name: 'Sequential' }, spec, weights: Float32Array.from([0, 1]) };

const dirs: string[] = [];
const open: FederationDatabase[] = [];
afterEach(() => {
  for (const db of open.splice(0)) if (db.isOpen) db.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmpDb(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'flock-serving-'));
  dirs.push(dir);
  return path.join(dir, 'coordinator.db');
}

function start(file: string, settings: Partial<ServingSettings>, audit: AuditEvent[] = []) {
  const db = openFederationDatabase(file);
  open.push(db);
  const { store } = db.openModels({ federationId: 'f', config: {}, model });
  const lifecycle = new ServingLifecycle({ store, log: db.serving, settings: servingSettingsSchema.parse(settings), audit: { record: (e) => audit.push(e) } });
  return { db, store, lifecycle };
}

describe('serving version lifecycle (real SQLite)', () => {
  it('always: serves every commit', () => {
    const { store, lifecycle } = start(tmpDb(), { policy: 'always' });
    expect(lifecycle.serving).toBe(0);
    const v = store.commit(Float32Array.from([1, 1]), 1, {});
    lifecycle.committed(v.version);
    expect(lifecycle.serving).toBe(1);
  });

  it('manual: only promote and roll back change it; every change is audited and survives a restart', () => {
    const file = tmpDb();
    const audit: AuditEvent[] = [];
    const a = start(file, { policy: 'manual' }, audit);
    for (let r = 1; r <= 3; r++) a.lifecycle.committed(a.store.commit(Float32Array.from([r, r]), r, {}).version);
    expect(a.store.latest().version).toBe(3);
    expect(a.lifecycle.serving).toBe(0);
    a.lifecycle.promote(2, 'operator', 'looks good');
    a.lifecycle.promote(3, 'operator', 'newer');
    expect(a.lifecycle.serving).toBe(3);
    a.lifecycle.rollback('operator', 'bad version');
    expect(a.lifecycle.serving).toBe(2);
    expect(audit.map((e) => e.action)).toEqual(['serving.initial', 'serving.promote', 'serving.promote', 'serving.rollback']);
    expect(() => a.lifecycle.promote(9, 'operator', 'x')).toThrow(expect.objectContaining({ code: 'MODEL_NOT_FOUND' }));
    a.db.close();
    // Restart: the serving version and the rollback stack come back from the database.
    const b = start(file, { policy: 'manual' });
    expect(b.lifecycle.serving).toBe(2);
    expect(b.lifecycle.rollbackStack).toEqual([0]);
    expect(b.lifecycle.recent(10).map((e) => e.action)).toEqual(['rollback', 'promote', 'promote', 'initial']);
    b.lifecycle.rollback('operator', 'back to the start');
    expect(b.lifecycle.serving).toBe(0);
    expect(() => b.lifecycle.rollback('operator', 'nothing left')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('evaluated: promotes within the tolerance, holds a worse version, treats *loss* as lower-is-better', () => {
    const { store, lifecycle } = start(tmpDb(), { policy: 'evaluated', metric: 'server_accuracy', tolerance: 0.05 });
    store.annotate(0, { server_accuracy: 0.5 });
    const v1 = store.commit(Float32Array.from([1, 1]), 1, {}).version;
    lifecycle.committed(v1);
    expect(lifecycle.serving).toBe(0); // no metric yet: wait for it
    store.annotate(v1, { server_accuracy: 0.47 });
    lifecycle.evaluated(v1);
    expect(lifecycle.serving).toBe(1); // 0.03 worse, within 0.05
    const v2 = store.commit(Float32Array.from([2, 2]), 2, { server_accuracy: 0.3 }).version;
    lifecycle.committed(v2);
    expect(lifecycle.serving).toBe(1);
    expect(lifecycle.recent(1)[0]).toMatchObject({ action: 'hold', version: 2, serving: 1 });

    const loss = start(tmpDb(), { policy: 'evaluated', metric: 'loss', tolerance: 0.1 });
    loss.store.annotate(0, { loss: 1 });
    loss.lifecycle.committed(loss.store.commit(Float32Array.from([1, 1]), 1, { loss: 1.05 }).version);
    expect(loss.lifecycle.serving).toBe(1);
    loss.lifecycle.committed(loss.store.commit(Float32Array.from([2, 2]), 2, { loss: 1.5 }).version);
    expect(loss.lifecycle.serving).toBe(1);
  });

  it('evaluated: never re-promotes a version the operator rolled back from, even after a restart', () => {
    const file = tmpDb();
    const a = start(file, { policy: 'evaluated', metric: 'accuracy' });
    const v1 = a.store.commit(Float32Array.from([1, 1]), 1, { accuracy: 0.9 }).version;
    a.lifecycle.committed(v1);
    expect(a.lifecycle.serving).toBe(1);
    a.lifecycle.rollback('operator', 'bad in production');
    a.lifecycle.evaluated(v1);
    expect(a.lifecycle.serving).toBe(0);
    a.db.close();
    const b = start(file, { policy: 'evaluated', metric: 'accuracy' });
    b.lifecycle.evaluated(1);
    expect(b.lifecycle.serving).toBe(0);
  });
});
