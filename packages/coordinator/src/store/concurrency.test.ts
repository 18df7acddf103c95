// Two store instances (two coordinator processes, two fleet nodes) writing one database at once.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { FlockError, type ModelSpec } from '@flock/protocol';
import type { FlatModel } from '@flock/model';
import type { ClientIdentity, EnrollmentToken } from '../auth/registry.js';
import { eachBackend, type Place } from './backends.test-support.js';
import type { FederationStore } from './types.js';

const spec: ModelSpec = { format: 'flock-weights/v1', weights: [{ name: 'w', shape: [3], dtype: 'float32' }] };
const model: FlatModel = { topology: {}, spec, weights: Float32Array.from([0, 1, -1]) };
const init = { federationId: 'fed-a', config: {}, model };
const token = (id: string): EnrollmentToken => ({ id, secretHash: 'ab'.repeat(32), label: null, createdAt: '2026-01-01T00:00:00.000Z', expiresAt: null, boundClientId: null, revokedAt: null });
const identity = (clientId: string, tokenId: string): ClientIdentity => ({ clientId, publicKey: 'cd'.repeat(32), tokenId, enrolledAt: '2026-01-02T00:00:00.000Z', revokedAt: null, lastSeenAt: null });

/** Runs both at once (each starts before either finishes) and settles both. */
function race<T>(a: () => T | Promise<T>, b: () => T | Promise<T>): Promise<[PromiseSettledResult<Awaited<T>>, PromiseSettledResult<Awaited<T>>]> {
  return Promise.allSettled([Promise.resolve().then(a), Promise.resolve().then(b)]) as Promise<[PromiseSettledResult<Awaited<T>>, PromiseSettledResult<Awaited<T>>]>;
}

eachBackend('two writers on one database', (backend) => {
  let place: Place;
  let a: FederationStore;
  let b: FederationStore;
  beforeEach(async () => {
    place = await backend.place();
    a = await place.open();
    b = await place.open();
  });
  afterEach(async () => {
    await place.dispose();
  });

  it('committing the same round at once: exactly one wins, the other gets STORE_CONFLICT and writes nothing', async () => {
    await a.openModels(init);
    await b.openModels(init);
    await a.rounds.start({ round: 1, roundId: '1-x', kind: 'train', modelVersion: 0, cohort: ['c'], startedAt: new Date().toISOString() });
    const results = await race(
      () => a.commitRound({ round: 1, weights: Float32Array.from([1, 1, 1]), modelMetrics: {}, roundMetrics: {}, reporters: ['c'] }),
      () => b.commitRound({ round: 1, weights: Float32Array.from([2, 2, 2]), modelMetrics: {}, roundMetrics: {}, reporters: ['c'] }),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.reason).toBeInstanceOf(FlockError);
    expect(lost[0]!.reason).toMatchObject({ code: 'STORE_CONFLICT', details: { round: 1, status: 'committed' } });
    const history = await a.models.history();
    expect(history.map((h) => h.version)).toEqual([0, 1]);
    const winner = won[0]!.status === 'fulfilled' ? won[0]!.value : undefined;
    expect(history[1]!.hash).toBe(winner!.hash);
    expect(await b.rounds.get(1)).toMatchObject({ status: 'committed', committedVersion: 1 });
  });

  it('committing two different rounds at once: both commit, as consecutive versions, each once', async () => {
    await a.openModels(init);
    await b.openModels(init);
    const startedAt = new Date().toISOString();
    await a.rounds.start({ round: 1, roundId: '1-x', kind: 'train', modelVersion: 0, cohort: ['c'], startedAt });
    await a.rounds.start({ round: 2, roundId: '2-y', kind: 'train', modelVersion: 0, cohort: ['d'], startedAt });
    const results = await race(
      () => a.commitRound({ round: 1, weights: Float32Array.from([1, 1, 1]), modelMetrics: {}, roundMetrics: {}, reporters: ['c'] }),
      () => b.commitRound({ round: 2, weights: Float32Array.from([2, 2, 2]), modelMetrics: {}, roundMetrics: {}, reporters: ['d'] }),
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    const versions = results.map((r) => (r.status === 'fulfilled' ? r.value.version : -1)).sort();
    expect(versions).toEqual([1, 2]);
    expect((await a.models.history()).map((h) => h.version)).toEqual([0, 1, 2]);
    const rounds = await b.rounds.all();
    expect(rounds.map((r) => r.committedVersion).sort()).toEqual([1, 2]);
  });

  it('two enrolments racing for one token: exactly one binds it', async () => {
    await a.registry.addToken(token('t1'));
    const results = await race(
      () => a.registry.enroll('t1', identity('alice', 't1')),
      () => b.registry.enroll('t1', identity('bob', 't1')),
    );
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : r.reason)).sort()).toEqual([false, true]);
    const bound = (await a.registry.getToken('t1'))!.boundClientId;
    expect(['alice', 'bob']).toContain(bound);
    expect((await b.registry.listIdentities()).map((i) => i.clientId)).toEqual([bound]);
  });

  it('two nodes initialising a fresh database at once create one federation and one version 0', async () => {
    const results = await race(
      () => a.openModels(init),
      () => b.openModels({ ...init, model: { ...model, weights: Float32Array.from([5, 5, 5]) } }),
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value.created : undefined)).sort()).toEqual([false, true]);
    expect((await a.models.history()).map((h) => h.version)).toEqual([0]);
    expect(a.models.latest().hash).toBe(b.models.latest().hash);
  });
});
