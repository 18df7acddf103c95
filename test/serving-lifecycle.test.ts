import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { FlockClient } from '@flock/client';
import { Coordinator, type CoordinatorSettingsInput } from '@flock/coordinator';
import { createPresetModel, flatModelOf, selectBackend } from '@flock/model';
import { loadFashionMnist } from '@flock/sim';
import { fashionSlices } from './helpers.js';

// The serving version over the admin API with real rounds, a real SQLite file and a restart;
// server-side evaluation on a held-out set (--eval-data) recorded per version.

const TOKEN = 'operator-token-for-serving-tests';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function evalSet(n: number): Promise<{ x: Float32Array; labels: Int32Array }> {
  const test = await loadFashionMnist({ split: 'test', limit: n });
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = test.images[i]! / 255;
  return { x, labels: Int32Array.from(test.labels.subarray(0, n)) };
}

async function coordinator(db: string, settings: CoordinatorSettingsInput, evalData?: { x: Float32Array; labels: Int32Array }): Promise<{ c: Coordinator; url: string }> {
  await selectBackend('auto');
  const m = createPresetModel('mlp', { seed: 3 });
  const flat = await flatModelOf(m);
  m.dispose();
  const c = new Coordinator({ model: flat, database: db, operatorToken: TOKEN, settings: { auth: 'open', minClients: 2, roundTimeoutMs: 60_000, ...settings }, ...(evalData ? { evalData } : {}) });
  const url = await c.listen(0, '127.0.0.1');
  return { c, url };
}

async function clients(url: string): Promise<void> {
  const data = await fashionSlices(2, 60);
  const list = data.map((d, i) => new FlockClient({ url, clientId: `srv-${i}`, model: () => createPresetModel('mlp'), data: d, seed: i }));
  cleanups.push(async () => {
    await Promise.all(list.map((x) => x.stop()));
    for (const d of data) tf.dispose([d.x, d.y]);
  });
  await Promise.all(list.map((x) => x.start()));
}

async function admin(url: string, method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}${p}`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: res.status, json: await res.json() };
}

describe('serving version over the admin API', () => {
  it('manual policy: latest moves, serving only by promote / roll back; it survives a restart and predict follows it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'flock-serving-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const db = path.join(dir, 'coordinator.db');
    const data = await evalSet(200);
    const a = await coordinator(db, { rounds: 2, serving: { policy: 'manual' } }, data);
    await clients(a.url);
    a.c.start();
    await a.c.whenDone();
    await a.c.serving.settled();
    expect(a.c.store.latest().version).toBe(2);
    let s = await admin(a.url, 'GET', '/v1/admin/serving');
    expect(s.json).toMatchObject({ policy: 'manual', serving: 0, latest: 2 });
    // Server-side evaluation of every version on the held-out set.
    for (const v of [0, 1, 2]) {
      const info = (await (await fetch(`${a.url}/v1/models/${v}`)).json()) as { metrics: Record<string, number> };
      expect(info.metrics.server_accuracy).toBeGreaterThanOrEqual(0);
      expect(info.metrics.server_loss).toBeGreaterThan(0);
    }
    expect((await admin(a.url, 'POST', '/v1/admin/serving/promote', { version: 1 })).json.serving.serving).toBe(1);
    expect((await admin(a.url, 'POST', '/v1/admin/serving/promote', { version: 2, reason: 'newest' })).json.event).toMatchObject({ action: 'promote', version: 2, actor: 'operator', reason: 'newest' });
    const rolled = await admin(a.url, 'POST', '/v1/admin/serving/rollback', {});
    expect(rolled.status).toBe(200);
    expect(rolled.json.serving.serving).toBe(1);
    expect((await admin(a.url, 'POST', '/v1/admin/serving/promote', { version: 7 })).json.error.code).toBe('MODEL_NOT_FOUND');
    expect((await admin(a.url, 'POST', '/v1/admin/serving/promote', { version: 'x' })).json.error.code).toBe('BAD_MESSAGE');
    const anon = await fetch(`${a.url}/v1/admin/serving/rollback`, { method: 'POST' });
    expect(anon.status).toBe(401);
    const servedInfo = (await (await fetch(`${a.url}/v1/models/serving`)).json()) as { version: number };
    expect(servedInfo.version).toBe(1);
    await a.c.close();

    const b = await coordinator(db, { rounds: 2, serving: { policy: 'manual' } });
    cleanups.push(() => b.c.close());
    s = await admin(b.url, 'GET', '/v1/admin/serving');
    expect(s.json.serving).toBe(1);
    expect(s.json.rollbackStack).toEqual([0]);
    expect(s.json.events.map((e: { action: string }) => e.action)).toEqual(['rollback', 'promote', 'promote', 'initial']);
    const instance = Array.from({ length: 28 }, () => Array.from({ length: 28 }, () => [0.5]));
    const p = (await (await fetch(`${b.url}/v1/models/serving:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: [instance] }) })).json()) as { modelVersion: number };
    expect(p.modelVersion).toBe(1);
    expect((await admin(b.url, 'POST', '/v1/admin/serving/rollback')).json.serving.serving).toBe(0);
  });

  it('evaluated policy promotes on the server-side metric', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'flock-serving-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const a = await coordinator(path.join(dir, 'c.db'), { rounds: 1, train: { epochs: 1, batchSize: 16, learningRate: 0.1 }, serving: { policy: 'evaluated', metric: 'server_accuracy', tolerance: 1 } }, await evalSet(100));
    cleanups.push(() => a.c.close());
    await clients(a.url);
    a.c.start();
    await a.c.whenDone();
    await a.c.serving.settled();
    const s = await admin(a.url, 'GET', '/v1/admin/serving');
    // Tolerance 1: any accuracy is within it, so version 1 is promoted once evaluated.
    expect(s.json.serving).toBe(1);
    expect(s.json.events[0]).toMatchObject({ action: 'promote', version: 1, actor: 'coordinator' });
    expect(s.json.events[0].metrics.candidate).toBe(a.c.store.get(1)!.metrics.server_accuracy);
  });
});
