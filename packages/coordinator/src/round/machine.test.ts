import { describe, expect, it } from 'vitest';
import { FlockError, encodeFloat32, type RoundStart } from '@flock/protocol';
import { WeightedMeanAggregator, type AggregateResult, type UpdateAggregator } from '../aggregator.js';
import type { Clock } from './clock.js';
import { RoundMachine, checkRound, decideOutcome, type RoundKind, type RoundMachineOptions } from './machine.js';

/** A clock that moves only when the test says so (advance); deferred calls run on flush(). */
function fakeClock(start = 1_000_000): Clock & { t: number; deferred: Array<() => void>; flush(): void; advance(ms: number): void } {
  const timers = new Set<{ at: number; fn: () => void }>();
  const c = {
    t: start,
    deferred: [] as Array<() => void>,
    now: () => c.t,
    after: (ms: number, fn: () => void) => {
      const timer = { at: c.t + ms, fn };
      timers.add(timer);
      return () => void timers.delete(timer);
    },
    defer: (fn: () => void) => void c.deferred.push(fn),
    flush() {
      for (const fn of c.deferred.splice(0)) fn();
    },
    advance(ms: number) {
      c.t += ms;
      for (const timer of [...timers].sort((a, b) => a.at - b.at)) {
        if (timer.at <= c.t && timers.delete(timer)) timer.fn();
      }
    },
  };
  return c;
}

const NUM_PARAMS = 2;
const DEADLINE_IN = 5_000;

function machine(kind: RoundKind = 'train', o: Partial<RoundMachineOptions> & { cohort?: string[] } = {}) {
  const clock = fakeClock();
  const r = new RoundMachine(
    { roundId: '7-abc', round: 7, kind, modelVersion: 3, cohort: o.cohort ?? ['a', 'b', 'c'], deadline: clock.now() + DEADLINE_IN },
    {
      clock,
      numParams: NUM_PARAMS,
      maxExampleWeight: 100,
      sealRequired: false,
      aggregator: kind === 'train' ? new WeightedMeanAggregator(NUM_PARAMS) : undefined,
      deterministicOrder: () => false,
      ...o,
    },
  );
  return { r, clock };
}

const meta = (numExamples: number, metrics?: Record<string, number>) => ({ roundId: '7-abc', modelVersion: 3, numExamples, ...(metrics ? { metrics } : {}) });
const bytes = (...v: number[]) => encodeFloat32(Float32Array.from(v));

/** The FlockError code `fn` throws (fails the test if it throws anything else or nothing). */
function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FlockError);
    return (err as FlockError).code;
  }
  throw new Error('expected a FlockError');
}

async function isSettledPromise(p: Promise<void>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await Promise.resolve();
  await Promise.resolve();
  return done;
}

describe('RoundMachine', () => {
  it('settles reporters, rejections and declines, and finishes (deferred) only when the whole cohort has settled', async () => {
    const { r, clock } = machine();
    r.check('a', 'train');
    r.update('a', meta(10, { loss: 1 }), bytes(1, 2));
    expect(codeOf(() => r.update('b', meta(10), bytes(Number.NaN, 0)))).toBe('NON_FINITE');
    expect(clock.deferred).toHaveLength(0);
    expect(await isSettledPromise(r.finished)).toBe(false);

    expect(r.decline('c')).toBe(true);
    expect([...r.settled].sort()).toEqual(['a', 'b', 'c']);
    expect(r.reporters).toEqual(['a']);
    expect(r.rejected).toEqual([
      { clientId: 'b', code: 'NON_FINITE' },
      { clientId: 'c', code: 'DECLINED' },
    ]);
    // Not finished before the next turn: the last client's ack goes out first.
    expect(clock.deferred).toHaveLength(1);
    expect(await isSettledPromise(r.finished)).toBe(false);
    clock.flush();
    expect(await isSettledPromise(r.finished)).toBe(true);
  });

  it('an upload whose receiver already found a non-finite value (firstNonFinite >= 0) is NON_FINITE at that index and adds nothing; -1 is aggregated', () => {
    const { r } = machine();
    const up = { ...meta(1), uploadId: 'aaaaaaaaaaaaaaaa', byteLength: 8, chunkBytes: 1024 };
    let err: unknown;
    try {
      r.acceptUpload('a', up, Float32Array.of(1, Number.NaN), 1);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'NON_FINITE', details: { index: 1 } });
    r.acceptUpload('b', up, Float32Array.of(2, 4), -1);
    expect(r.rejected).toEqual([{ clientId: 'a', code: 'NON_FINITE' }]);
    // Only b's values are in the aggregate: a's finite first value was never added.
    expect(r.aggregate()).toMatchObject({ count: 1, totalWeight: 1, meanDelta: Float32Array.of(2, 4) });
  });

  it('a report after the deadline, or once collection stopped, is LATE_UPDATE', () => {
    const { r, clock } = machine();
    clock.t = r.deadline;
    r.check('a', 'train'); // the deadline itself still counts
    clock.t = r.deadline + 1;
    expect(codeOf(() => r.check('a', 'train'))).toBe('LATE_UPDATE');
    clock.t = r.deadline - 1;
    r.collecting = false;
    expect(codeOf(() => r.check('a', 'train'))).toBe('LATE_UPDATE');
  });

  it('checks in the order NOT_SELECTED, DUPLICATE_UPDATE, LATE_UPDATE, kind', () => {
    const { r, clock } = machine();
    r.update('a', meta(1), bytes(0, 0));
    clock.t = r.deadline + 1;
    expect(codeOf(() => r.check('z', 'evaluate'))).toBe('NOT_SELECTED');
    expect(codeOf(() => r.check('a', 'evaluate'))).toBe('DUPLICATE_UPDATE');
    expect(codeOf(() => r.check('b', 'evaluate'))).toBe('LATE_UPDATE');
    clock.t = r.deadline;
    expect(codeOf(() => r.check('b', 'evaluate'))).toBe('BAD_MESSAGE');
  });

  it('a durable claim already taken is DUPLICATE_UPDATE and does not settle the client', () => {
    const claims: string[] = [];
    const { r } = machine('train', { claim: (roundId, id) => (claims.push(`${roundId}/${id}`), id !== 'b') });
    r.update('a', meta(1), bytes(0, 0));
    expect(codeOf(() => r.update('b', meta(1), bytes(0, 0)))).toBe('DUPLICATE_UPDATE');
    expect(claims).toEqual(['7-abc/a', '7-abc/b']);
    expect(r.settled.has('b')).toBe(false);
    expect(r.reporters).toEqual(['a']);
  });

  it('rejects a wrong model version or shape by settling the client, and plain updates when sealing is required', () => {
    const { r } = machine();
    expect(codeOf(() => r.update('a', { ...meta(1), modelVersion: 2 }, bytes(0, 0)))).toBe('MODEL_VERSION_MISMATCH');
    expect(codeOf(() => r.update('b', meta(1), bytes(0, 0, 0)))).toBe('WRONG_SHAPE');
    expect(r.rejected.map((x) => x.code)).toEqual(['MODEL_VERSION_MISMATCH', 'WRONG_SHAPE']);
    expect(r.reporters).toEqual([]);

    const sealed = machine('train', { sealRequired: true }).r;
    expect(codeOf(() => sealed.update('a', meta(1), bytes(0, 0)))).toBe('UPLOAD_REJECTED');
    expect(sealed.settled.size).toBe(0);
  });

  it('a decline counts only for an awaited cohort member', () => {
    const { r } = machine();
    expect(r.decline('z')).toBe(false);
    r.update('a', meta(1), bytes(0, 0));
    expect(r.decline('a')).toBe(false);
    expect(r.rejected).toEqual([]);
    expect(r.decline('b')).toBe(true);
    expect(r.decline('b')).toBe(false);
    expect(r.rejected).toEqual([{ clientId: 'b', code: 'DECLINED' }]);
  });

  it('aggregates the example-weighted mean (weights capped) and weights the metrics alike', () => {
    const { r } = machine('train', { maxExampleWeight: 30 });
    r.update('a', meta(10, { loss: 1 }), bytes(1, 0));
    r.update('b', meta(1000, { loss: 4, accuracy: 0.5 }), bytes(0, 2)); // weight capped at 30
    expect(r.numExamples).toBe(1010);
    const agg = r.aggregate();
    expect(agg.totalWeight).toBe(40);
    expect(agg.count).toBe(2);
    expect(Array.from(agg.meanDelta)).toEqual([10 / 40, 60 / 40]);
    expect(r.metrics()).toEqual({ train_loss: (1 * 10 + 4 * 30) / 40, train_accuracy: 0.5 });
  });

  it('with deterministicOrder holds updates and adds them in client-id order', () => {
    const order: string[] = [];
    const recording: UpdateAggregator = {
      needsIndividualUpdates: false,
      add: (id) => void order.push(id),
      result: (): AggregateResult => ({ meanDelta: new Float32Array(NUM_PARAMS), totalWeight: 0, count: order.length }),
    };
    const { r } = machine('train', { aggregator: recording, deterministicOrder: () => true });
    r.update('c', meta(1), bytes(0, 0));
    r.update('a', meta(1), bytes(0, 0));
    r.update('b', meta(1), bytes(0, 0));
    expect(order).toEqual([]);
    expect(r.aggregate().count).toBe(3);
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('with deterministicOrder and an order-independent aggregator (exact sum) adds at arrival, and settles an update it refuses as rejected', () => {
    const order: string[] = [];
    const exact: UpdateAggregator = {
      needsIndividualUpdates: false,
      orderIndependent: true,
      add: (id) => {
        if (id === 'b') throw new FlockError('SUM_OVERFLOW', 'out of range');
        order.push(id);
      },
      result: (): AggregateResult => ({ meanDelta: new Float32Array(NUM_PARAMS), totalWeight: 0, count: order.length }),
    };
    const { r } = machine('train', { aggregator: exact, deterministicOrder: () => true });
    r.update('c', meta(1), bytes(0, 0));
    r.update('a', meta(1), bytes(0, 0));
    // Nothing held: added as they arrived.
    expect(order).toEqual(['c', 'a']);
    expect(codeOf(() => r.update('b', meta(1), bytes(0, 0)))).toBe('SUM_OVERFLOW');
    expect(r.rejected).toEqual([{ clientId: 'b', code: 'SUM_OVERFLOW' }]);
    expect(r.reporters).toEqual(['c', 'a']);
    expect(r.settled.size).toBe(3);
    expect(r.aggregate().count).toBe(2);
  });

  it('evaluation reports are checked for their model version and averaged as eval_ metrics', () => {
    const { r } = machine('evaluate');
    r.evaluate('a', { roundId: '7-abc', modelVersion: 3, numExamples: 30, loss: 0.5, accuracy: 0.9 });
    r.evaluate('b', { roundId: '7-abc', modelVersion: 3, numExamples: 10, loss: 1.5, accuracy: 0.5 });
    expect(codeOf(() => r.evaluate('c', { roundId: '7-abc', modelVersion: 2, numExamples: 10, loss: 1, accuracy: 1 }))).toBe('MODEL_VERSION_MISMATCH');
    expect(r.metrics()).toEqual({ eval_loss: 0.75, eval_accuracy: 0.8 });
  });

  it('re-sends round:start to an awaited member with the time left', () => {
    const { r, clock } = machine();
    expect(r.restartFor('a')).toBeUndefined(); // no start message yet
    r.start = { roundId: '7-abc', timeoutMs: DEADLINE_IN } as RoundStart;
    clock.t += 1_500;
    expect(r.restartFor('a')?.timeoutMs).toBe(DEADLINE_IN - 1_500);
    clock.t = r.deadline + 10;
    expect(r.restartFor('a')?.timeoutMs).toBe(1);
    r.update('b', meta(1), bytes(0, 0));
    expect(r.restartFor('b')).toBeUndefined();
    expect(r.restartFor('z')).toBeUndefined();
  });
});

describe('checkRound', () => {
  it('a report for another round is LATE_UPDATE if it ended, ROUND_NOT_ACTIVE otherwise', () => {
    const { r } = machine();
    const ended = (id: string) => id === '6-old';
    expect(codeOf(() => checkRound(r, 'a', '6-old', 'train', ended))).toBe('LATE_UPDATE');
    expect(codeOf(() => checkRound(r, 'a', '9-new', 'train', ended))).toBe('ROUND_NOT_ACTIVE');
    expect(codeOf(() => checkRound(undefined, 'a', '7-abc', 'train', ended))).toBe('ROUND_NOT_ACTIVE');
    expect(codeOf(() => checkRound(r, 'z', '7-abc', 'train', ended))).toBe('NOT_SELECTED');
    expect(checkRound(r, 'a', '7-abc', 'train', ended)).toBe(r);
  });
});

describe('decideOutcome (protocol/v1.md 7.2 step 4)', () => {
  it('shutdown, then a failed secure aggregation, then TOO_FEW_REPORTS, then commit or complete', () => {
    const { r } = machine();
    r.update('a', meta(1), bytes(0, 0));
    const secureError = new FlockError('SECAGG_ABORTED', 'dropped');
    expect(decideOutcome(r, { closing: true, secureError, minClients: 5 })).toMatchObject({ status: 'abandoned', reason: { code: 'ROUND_ABANDONED', details: { reason: 'shutdown' } } });
    expect(decideOutcome(r, { closing: false, secureError, minClients: 5 })).toMatchObject({ status: 'abandoned', reason: { code: 'SECAGG_ABORTED' } });
    expect(decideOutcome(r, { closing: false, minClients: 2 })).toEqual({
      status: 'abandoned',
      reason: expect.objectContaining({ code: 'TOO_FEW_REPORTS', details: { reported: 1, selected: 3, required: 2 } }),
    });
    expect(decideOutcome(r, { closing: false, minClients: 1 })).toEqual({ status: 'committed' });

    const e = machine('evaluate').r;
    e.evaluate('a', { roundId: '7-abc', modelVersion: 3, numExamples: 1, loss: 1, accuracy: 1 });
    expect(decideOutcome(e, { closing: false, minClients: 1 })).toEqual({ status: 'completed' });
  });

  it('rejected and declined clients do not count as reports', () => {
    const { r } = machine();
    r.update('a', meta(1), bytes(0, 0));
    codeOf(() => r.update('b', meta(1), bytes(Number.POSITIVE_INFINITY, 0)));
    r.decline('c');
    expect(decideOutcome(r, { closing: false, minClients: 2 })).toMatchObject({ status: 'abandoned', reason: { code: 'TOO_FEW_REPORTS', details: { reported: 1 } } });
  });
});

describe('RoundMachine: members that are gone', () => {
  const GRACE = 2_000;
  function present(o: { cohort?: string[]; minClients?: number } = {}) {
    const online = new Set(o.cohort ?? ['a', 'b', 'c']);
    const progress: Array<{ reported: number; disconnected: number }> = [];
    const m = machine('train', {
      ...(o.cohort ? { cohort: o.cohort } : {}),
      presence: { connected: (id) => online.has(id), minClients: o.minClients ?? 1, graceMs: GRACE },
      onProgress: (p) => progress.push({ reported: p.reported, disconnected: p.disconnected }),
    });
    return { ...m, online, progress };
  }

  it('ends the collection one grace after every remaining member disconnected, not at the deadline', async () => {
    const { r, clock, online, progress } = present();
    r.update('a', meta(10), bytes(1, 1));
    online.delete('b');
    r.membershipChanged();
    online.delete('c');
    r.membershipChanged();
    clock.advance(GRACE - 1);
    expect(await isSettledPromise(r.finished)).toBe(false);
    clock.advance(1);
    expect(await isSettledPromise(r.finished)).toBe(true);
    expect(r.endedEarly).toMatch(/every remaining cohort member \(2\) disconnected/);
    expect(progress.at(-1)).toEqual({ reported: 1, disconnected: 2 });
    expect(decideOutcome(r, { closing: false, minClients: 1 }).status).toBe('committed');
  });

  it('a member that reconnects within the grace keeps the round collecting until its deadline', async () => {
    const { r, clock, online } = present();
    for (const id of ['a', 'b', 'c']) online.delete(id);
    r.membershipChanged();
    clock.advance(GRACE / 2);
    online.add('b');
    r.membershipChanged();
    clock.advance(GRACE);
    expect(await isSettledPromise(r.finished)).toBe(false);
    expect(r.endedEarly).toBeUndefined();
  });

  it('ends early when the members still connected cannot make up the quorum', async () => {
    const { r, clock, online } = present({ minClients: 3 });
    r.update('a', meta(10), bytes(1, 1));
    online.delete('c'); // b is still connected, but a + b < 3
    r.membershipChanged();
    clock.advance(GRACE);
    expect(await isSettledPromise(r.finished)).toBe(true);
    expect(r.endedEarly).toMatch(/quorum of 3 can no longer be met \(1 reported, 1 still connected, 1 disconnected\)/);
    expect(decideOutcome(r, { closing: false, minClients: 3 })).toMatchObject({ status: 'abandoned', reason: { code: 'TOO_FEW_REPORTS' } });
  });

  it('settled members do not count as gone, and a round without presence never ends early', async () => {
    const { r, clock, online } = present();
    r.update('a', meta(10), bytes(1, 1));
    online.delete('a'); // reported, then left: nothing to wait for from it
    r.membershipChanged();
    clock.advance(GRACE * 10);
    expect(await isSettledPromise(r.finished)).toBe(false);
    const plain = machine('train');
    plain.r.membershipChanged();
    plain.clock.advance(GRACE * 10);
    expect(await isSettledPromise(plain.r.finished)).toBe(false);
  });

  it('keeps its counts incrementally (told who changed) equal to a recount of the cohort, through reports, rejections, disconnections and reconnections', () => {
    const cohort = Array.from({ length: 40 }, (_, i) => `m${i}`);
    const { r, online } = present({ cohort, minClients: 1 });
    const recount = () => {
      const unsettled = cohort.filter((id) => !r.settled.has(id));
      const away = unsettled.filter((id) => !online.has(id)).length;
      return { disconnected: away, waiting: unsettled.length - away };
    };
    expect(r.progress()).toMatchObject(recount());
    // A fixed, varied script: every 3rd member leaves, every 5th comes back, every 2nd reports,
    // every 7th is rejected (while connected or not).
    for (let i = 0; i < cohort.length; i++) {
      const id = cohort[i]!;
      if (i % 3 === 0) {
        online.delete(id);
        r.membershipChanged(id);
      }
      if (i % 5 === 0) {
        online.add(id);
        r.membershipChanged(id);
      }
      if (i % 7 === 0) codeOf(() => r.update(id, meta(1), bytes(Number.NaN, 0)));
      else if (i % 2 === 0 && r.awaits(id)) r.update(id, meta(1), bytes(1, 1));
      expect(r.progress()).toMatchObject(recount());
    }
    // A change it is not told of: rebuilt on the next call without a client id.
    online.delete('m1');
    r.membershipChanged();
    expect(r.progress()).toMatchObject(recount());
  });
});
