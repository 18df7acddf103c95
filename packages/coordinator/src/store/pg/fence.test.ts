// Fleet nodes on one PostgreSQL database: the leader's fencing token guards every round start
// and commit; a deposed leader (a smaller token) writes nothing. Two store instances stand for
// two fleet nodes.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FlockError, type ModelSpec } from '@flock/protocol';
import type { FlatModel } from '@flock/model';
import type { Place } from '../backends.test-support.js';
import { pgBackend, twoPgNodes } from './shared-nodes.test-support.js';
import type { PgFederationStore } from './database.js';

const spec: ModelSpec = { format: 'flock-weights/v1', weights: [{ name: 'w', shape: [3], dtype: 'float32' }] };
const model: FlatModel = { topology: {}, spec, weights: Float32Array.from([0, 1, -1]) };
const init = { federationId: 'fed-a', config: {}, model };
const reason = new FlockError('ROUND_ABANDONED', 'leader changed', { reason: 'coordinator-restarted' }).toEnvelope();
const startedAt = '2026-01-01T00:00:00.000Z';

const refusal = async (p: Promise<unknown>): Promise<FlockError> => {
  try {
    await p;
  } catch (err) {
    return err as FlockError;
  }
  throw new Error('expected a refusal');
};

describe.skipIf(pgBackend.skip !== undefined)(`fleet fencing on a shared PostgreSQL store${pgBackend.skip ? ` (skipped: ${pgBackend.skip})` : ''}`, () => {
  let place: Place;
  let a: PgFederationStore;
  let b: PgFederationStore;
  let tokenA: number | undefined;
  let tokenB: number | undefined;
  beforeEach(async () => {
    ({ place, a, b } = await twoPgNodes(init));
    a.fenceWith(() => tokenA);
    b.fenceWith(() => tokenB);
  });
  afterEach(async () => {
    await place.dispose();
  });

  it('a deposed leader can neither commit its round nor start another; the new leader commits the next version', async () => {
    tokenA = 1;
    expect(await a.claimFence(1, reason)).toEqual({ previous: 0, abandoned: [], lastRound: 0, committed: 0 });
    await a.rounds.start({ round: 1, roundId: '1-a', kind: 'train', modelVersion: 0, cohort: ['c'], startedAt });
    // b takes over with a larger token: a's running round is abandoned.
    tokenB = 2;
    expect(await b.claimFence(2, reason)).toEqual({ previous: 1, abandoned: [1], lastRound: 1, committed: 0 });
    // a still believes it leads (token 1): every write is refused, typed.
    const commit = await refusal(a.commitRound({ round: 1, weights: Float32Array.from([1, 1, 1]), modelMetrics: {}, roundMetrics: {}, reporters: ['c'] }));
    expect(commit).toBeInstanceOf(FlockError);
    expect(commit).toMatchObject({ code: 'ROUND_ABANDONED', details: { reason: 'lease-lost', fenced: true, token: 1, fenceToken: 2 } });
    const start = await refusal(a.rounds.start({ round: 2, roundId: '2-a', kind: 'train', modelVersion: 0, cohort: ['c'], startedAt }));
    expect(start).toMatchObject({ code: 'ROUND_ABANDONED', details: { reason: 'lease-lost', fenced: true } });
    // A node that does not lead has no token at all.
    tokenA = undefined;
    expect(await refusal(a.rounds.start({ round: 2, roundId: '2-a', kind: 'train', modelVersion: 0, cohort: ['c'], startedAt }))).toMatchObject({ details: { reason: 'lease-lost' } });
    // Nor can it claim the store back with its old token.
    expect(await refusal(a.claimFence(1, reason))).toMatchObject({ code: 'ROUND_ABANDONED', details: { fenced: true, fenceToken: 2 } });
    expect(await b.rounds.get(1)).toMatchObject({ status: 'abandoned', reason: { details: { reason: 'coordinator-restarted' } } });
    await b.rounds.start({ round: 2, roundId: '2-b', kind: 'train', modelVersion: 0, cohort: ['c'], startedAt });
    const v = await b.commitRound({ round: 2, weights: Float32Array.from([2, 2, 2]), modelMetrics: {}, roundMetrics: {}, reporters: ['c'] });
    expect(v.version).toBe(1);
    // a, a follower now, reads the version b committed.
    expect((await a.models.refresh()).map((x) => x.version)).toEqual([1]);
    expect(a.models.latest().hash).toBe(v.hash);
    expect((await a.models.history()).map((h) => h.version)).toEqual([0, 1]);
  });

  it('a commit records its token as the highest seen; an older one is refused even without a claim in between', async () => {
    tokenA = 3;
    await a.rounds.start({ round: 1, roundId: '1-a', kind: 'train', modelVersion: 0, cohort: ['c'], startedAt });
    await a.commitRound({ round: 1, weights: Float32Array.from([1, 1, 1]), modelMetrics: {}, roundMetrics: {}, reporters: ['c'] });
    tokenB = 2;
    expect(await refusal(b.rounds.start({ round: 2, roundId: '2-b', kind: 'train', modelVersion: 1, cohort: ['c'], startedAt }))).toMatchObject({ details: { fenced: true, token: 2, fenceToken: 3 } });
  });

  it('fleet nodes share the coordinator lock; a single coordinator is refused while they run, and they while it runs', async () => {
    const la = await a.lock('fleet');
    const lb = await b.lock('fleet');
    expect(await refusal(a.lock('exclusive'))).toMatchObject({ code: 'STORE_LOCKED', details: { mode: 'exclusive' } });
    await la.release();
    await lb.release();
    const single = await a.lock('exclusive');
    expect(await refusal(b.lock('fleet'))).toMatchObject({ code: 'STORE_LOCKED', details: { mode: 'fleet' } });
    await single.release();
  });
});
