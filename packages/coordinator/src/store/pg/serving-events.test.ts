// The serving log on a PostgreSQL database that several fleet nodes share: each node appends
// its own serving changes; every append must land (ids come from the database, not from a
// node's memory), and a node opening later reads them all.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ModelSpec } from '@flock/protocol';
import type { FlatModel } from '@flock/model';
import type { ServingEvent } from '../../serving/lifecycle.js';
import { BACKENDS, type Place } from '../backends.test-support.js';
import type { PgFederationStore } from './database.js';

const spec: ModelSpec = { format: 'flock-weights/v1', weights: [{ name: 'w', shape: [2], dtype: 'float32' }] };
const model: FlatModel = { topology: {}, spec, weights: Float32Array.from([0, 1]) };
const init = { federationId: 'fed-s', config: {}, model };
const pgBackend = BACKENDS.find((b) => b.name === 'postgres')!;
const event = (version: number, actor: string): ServingEvent => ({ at: new Date().toISOString(), action: 'promote', version, serving: version, stack: [0, version], policy: 'always', actor, reason: `${actor} promoted`, metrics: {} });

describe.skipIf(pgBackend.skip !== undefined)(`serving events on a shared PostgreSQL store${pgBackend.skip ? ` (skipped: ${pgBackend.skip})` : ''}`, () => {
  let place: Place;
  let a: PgFederationStore;
  let b: PgFederationStore;
  beforeEach(async () => {
    place = await pgBackend.place();
    a = (await place.open()) as PgFederationStore;
    b = (await place.open()) as PgFederationStore;
    await a.openModels(init);
    await b.openModels(init);
  });
  afterEach(async () => {
    await place.dispose();
  });

  it('two nodes appending at once: every event is written, with distinct ids from the database, and a node opened later reads them all', async () => {
    // Both nodes loaded the same (empty) log: their in-memory counters agree, the database's ids must not collide.
    for (let v = 1; v <= 3; v++) {
      a.serving.append(event(v, 'node-a'));
      b.serving.append(event(v, 'node-b'));
    }
    await a.flush();
    await b.flush();
    const c = (await place.open()) as PgFederationStore;
    const all = c.serving.recent(100);
    expect(all).toHaveLength(6);
    expect(new Set(all.map((e) => e.id)).size).toBe(6);
    expect(all.filter((e) => e.actor === 'node-a').map((e) => e.version)).toEqual([3, 2, 1]);
    expect(all.filter((e) => e.actor === 'node-b').map((e) => e.version)).toEqual([3, 2, 1]);
    // Each node's own view carries the ids the database gave its events.
    const dbIds = new Set(all.map((e) => e.id));
    for (const e of [...a.serving.recent(10), ...b.serving.recent(10)]) expect(dbIds.has(e.id)).toBe(true);
  });
});
