// The fuzz tests themselves, shared by test/fuzz.test.ts and test/fuzz.slow.test.ts (hooks register in the importing file).
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { EVENTS } from '@flock/protocol';
import type { Coordinator } from '@flock/coordinator';
import { waitFor } from './helpers.js';
import { FuzzPeer, blast, checkErrorEvents, fuzzCoordinator, gc, generate, newStats, transportSafe, type FuzzMessage } from './fuzz-harness.js';

/** Message counts of the default run; test/fuzz.slow.test.ts runs 10x more. */
export const SIZES = { idle: 2_700, train: 3_300, secagg: 2_800 };

export const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

export const crashes: unknown[] = [];
/** Messages sent by the fuzz tests of this file (checked against the >= 10,000 target at the end). */
export const sent = { total: 0 };
const onUnhandled = (e: unknown): void => void crashes.push(e);
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
});

export async function peers(url: string, prefix: string, n: number): Promise<FuzzPeer[]> {
  const ps = Array.from({ length: n }, (_, i) => new FuzzPeer(url, `${prefix}-${i}`));
  cleanups.push(() => ps.forEach((p) => p.socket.disconnect()));
  await Promise.all(ps.map((p) => p.ready()));
  return ps;
}

function watch(c: Coordinator): unknown[] {
  const errors: unknown[] = [];
  c.on('error', (e) => errors.push(e));
  return errors;
}

export function runFuzz(sizes: typeof SIZES, seed: number): void {
  it(`idle coordinator: every malformed message is answered (ack: typed error envelope; no ack: one flock:error), nothing crashes, memory stays bounded`, async () => {
    const { coordinator, url } = await fuzzCoordinator({ minClients: 1_000, rounds: 1 });
    cleanups.push(() => coordinator.close());
    const emitted = watch(coordinator);
    const ps = await peers(url, 'fz', 4);
    const bound = (coordinator.io.engine.opts as { maxHttpBufferSize: number }).maxHttpBufferSize;
    const base = generate({ roundIds: ['1-abc', 'x'], sessions: ['s'], clientIds: ps.map((p) => p.clientId), numParams: coordinator.numParams }, sizes.idle, seed).filter((m) => transportSafe(m, bound));
    // Each message twice, with and without an ack: without a round nothing changes state, so the
    // no-ack copies must produce exactly as many flock:error events as the ack copies got errors.
    const twins: FuzzMessage[] = base.flatMap((m) => [{ ...m, withAck: true }, { ...m, withAck: false }]);
    gc();
    const heap0 = process.memoryUsage().heapUsed;
    const stats = newStats();
    await blast(ps, twins, stats);
    sent.total += stats.sent;
    expect(stats.badReplies).toEqual([]);
    const failed = stats.acked - stats.okAcks;
    expect(stats.acked).toBe(base.length);
    expect(failed).toBeGreaterThan(base.length * 0.9);
    await waitFor(() => ps.reduce((a, p) => a + p.errors.length, 0) >= failed, 20_000, 'flock:error events');
    // A last round trip per peer: nothing else is still on its way.
    for (const p of ps) await p.socket.timeout(10_000).emitWithAck(EVENTS.roundDecline, { roundId: 'sync', reason: 'sync' });
    expect(ps.reduce((a, p) => a + p.errors.length, 0)).toBe(failed);
    expect(checkErrorEvents(ps)).toEqual([]);
    // Every event type was exercised, and the connections survived.
    expect(new Set(base.map((m) => m.event)).size).toBe(17);
    for (const p of ps) expect(p.socket.connected).toBe(true);
    expect(coordinator.connectedClients).toHaveLength(4);
    expect([...stats.codes.keys()]).toEqual(expect.arrayContaining(['BAD_MESSAGE', 'UNKNOWN_EVENT', 'ROUND_NOT_ACTIVE']));
    gc();
    const grown = process.memoryUsage().heapUsed - heap0;
    expect(grown).toBeLessThan(64 * 1024 * 1024);
    expect(emitted).toEqual([]);
    expect(crashes).toEqual([]);
  });

  it('during a training round (real round ids in the mix): typed answers only, no crash, the coordinator keeps running rounds', async () => {
    const { coordinator, url } = await fuzzCoordinator({ minClients: 4, rounds: 2, roundTimeoutMs: 60_000 });
    cleanups.push(() => coordinator.close());
    const emitted = watch(coordinator);
    const ps = await peers(url, 'ft', 4);
    coordinator.start();
    await waitFor(() => ps.every((p) => p.starts.length > 0), 10_000, 'round:start');
    const roundId = ps[0]!.starts[0]!.roundId;
    const bound = (coordinator.io.engine.opts as { maxHttpBufferSize: number }).maxHttpBufferSize;
    const msgs = generate({ roundIds: [roundId, roundId, '0-old'], sessions: ['s'], clientIds: ps.map((p) => p.clientId), numParams: coordinator.numParams }, sizes.train, seed + 1).filter((m) => transportSafe(m, bound));
    const stats = newStats();
    await blast(ps, msgs, stats);
    sent.total += stats.sent;
    expect(stats.badReplies).toEqual([]);
    expect(stats.acked).toBe(msgs.filter((m) => m.withAck).length);
    for (const p of ps) await p.socket.timeout(10_000).emitWithAck(EVENTS.roundDecline, { roundId: 'sync', reason: 'sync' });
    expect(checkErrorEvents(ps)).toEqual([]);
    expect(ps.every((p) => p.socket.connected)).toBe(true);
    expect(emitted).toEqual([]);
    expect(crashes).toEqual([]);
    expect(coordinator.status().ok).toBe(true);
  });

  it('during a secure-aggregation round (real session in the mix): typed answers only, no crash', async () => {
    const { coordinator, url } = await fuzzCoordinator({ minClients: 4, rounds: 1, roundTimeoutMs: 60_000, secureAggregation: { enabled: true, stageTimeoutMs: 60_000 } });
    cleanups.push(() => coordinator.close());
    const emitted = watch(coordinator);
    const ps = await peers(url, 'fs', 4);
    coordinator.start();
    await waitFor(() => ps.every((p) => p.starts.length > 0), 10_000, 'round:start');
    const start = ps[0]!.starts[0]!;
    const bound = (coordinator.io.engine.opts as { maxHttpBufferSize: number }).maxHttpBufferSize;
    const msgs = generate({ roundIds: [start.roundId], sessions: [start.secagg!.session], clientIds: ps.map((p) => p.clientId), numParams: coordinator.numParams }, sizes.secagg, seed + 2)
      .map((m) => (m.args.length > 0 && typeof m.args[0] === 'object' && m.args[0] !== null && !(m.args[0] instanceof Uint8Array) && 'round' in (m.args[0] as object) ? { ...m, args: [{ ...(m.args[0] as object), round: start.round }, ...m.args.slice(1)] } : m))
      .filter((m) => transportSafe(m, bound));
    const stats = newStats();
    await blast(ps, msgs, stats);
    sent.total += stats.sent;
    expect(stats.badReplies).toEqual([]);
    for (const p of ps) await p.socket.timeout(10_000).emitWithAck(EVENTS.roundDecline, { roundId: 'sync', reason: 'sync' });
    expect(checkErrorEvents(ps)).toEqual([]);
    expect(stats.codes.has('SECAGG_REJECTED') || stats.codes.has('BAD_MESSAGE')).toBe(true);
    expect(emitted).toEqual([]);
    expect(crashes).toEqual([]);
  });
}

