// The serving log on a PostgreSQL database that several fleet nodes share: each node appends
// its own serving changes; every append must land (ids come from the database, not from a
// node's memory), and a node opening later reads them all.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ModelSpec } from '@flock/protocol';
import type { FlatModel } from '@flock/model';
import { ServingLifecycle, type ServingEvent } from '../../serving/lifecycle.js';
import { servingSettingsSchema } from '../../serving/settings.js';
import type { Place } from '../backends.test-support.js';
import { pgBackend, twoPgNodes } from './shared-nodes.test-support.js';
import type { PgFederationStore } from './database.js';

const spec: ModelSpec = { format: 'flock-weights/v1', weights: [{ name: 'w', shape: [2], dtype: 'float32' }] };
const model: FlatModel = { topology: {}, spec, weights: Float32Array.from([0, 1]) };
const init = { federationId: 'fed-s', config: {}, model };
const event = (version: number, actor: string): ServingEvent => ({ at: new Date().toISOString(), action: 'promote', version, serving: version, stack: [0, version], policy: 'always', actor, reason: `${actor} promoted`, metrics: {} });

describe.skipIf(pgBackend.skip !== undefined)(`serving events on a shared PostgreSQL store${pgBackend.skip ? ` (skipped: ${pgBackend.skip})` : ''}`, () => {
  let place: Place;
  let a: PgFederationStore;
  let b: PgFederationStore;
  beforeEach(async () => {
    ({ place, a, b } = await twoPgNodes(init));
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

  it("a fleet's nodes follow each other's serving changes: an operator's rollback on one node is served by the other after follow(), the newest change wins, and a version not yet followed is adopted once held", async () => {
    // Versions 1 and 2 committed (by "the leader" a); b follows them through the shared database.
    const commit = async (round: number): Promise<void> => {
      await a.rounds.start({ round, roundId: `r${round}`, kind: 'train', modelVersion: round - 1, cohort: ['c'], startedAt: new Date().toISOString() });
      await a.commitRound({ round, weights: Float32Array.from([round, round]), modelMetrics: {}, roundMetrics: {}, reporters: ['c'] });
    };
    // Both nodes start serving version 0 (manual policy: only the operator changes it).
    const settings = servingSettingsSchema.parse({ policy: 'manual' });
    const la = new ServingLifecycle({ store: a.models, log: a.serving, settings, audit: { record: () => undefined } });
    const lb = new ServingLifecycle({ store: b.models, log: b.serving, settings, audit: { record: () => undefined } });
    await commit(1);
    await commit(2);
    await b.models.refresh();
    const changes: number[] = [];
    lb.on('change', (e: ServingEvent) => changes.push(e.serving));
    // (flush: the other node's insert has landed, as it has by a fleet's next follow tick)
    la.promote(2, 'operator', 'ship it');
    await a.flush();
    expect(await la.follow()).toBe(false); // its own change: nothing to adopt
    expect(await lb.follow()).toBe(true);
    expect(lb.serving).toBe(2);
    expect(changes).toEqual([2]);
    // The operator rolls back on b: a serves version 0 again, and never promotes 2 by policy.
    lb.rollback('operator', 'complaints');
    await b.flush();
    expect(await la.follow()).toBe(true);
    expect(la.serving).toBe(0);
    expect(la.rollbackStack).toEqual(lb.rollbackStack);
    // Two changes at once: the one the database ordered last is every node's state.
    la.promote(1, 'operator', 'a: version 1');
    await a.flush();
    lb.promote(2, 'operator', 'b: version 2 again');
    await b.flush();
    await la.follow();
    await lb.follow();
    expect([la.serving, lb.serving]).toEqual([2, 2]);
    // A version b does not hold yet: adopted only once b has followed it.
    await commit(3);
    la.promote(3, 'operator', 'newest');
    await a.flush();
    expect(await lb.follow()).toBe(false);
    expect(lb.serving).toBe(2);
    await b.models.refresh();
    expect(await lb.follow()).toBe(true);
    expect(lb.serving).toBe(3);
  });
});
