import { describe, expect, it } from 'vitest';
import { noiseSummands } from '@flock/client';
import { RdpAccountant, planDpQuantization, secAggParameters } from '@flock/privacy';
import type { RoundStart } from '@flock/protocol';
import { clusterTestHooks, fleetLines } from './fleet-cluster.js';
import { fleetBinaries, until } from './fleet-redis.js';
import { freshSchema } from './fleet-pg-cluster.js';
import { MIN_GROUP, clientsOn, partialsInRedis, secureFleet, weights } from './fleet-secure.js';

const { cleanups, track } = clusterTestHooks();
const SIGMA = 0.5;
const C = 1;
// A fleet runs DP only on one shared PostgreSQL database: the accountant must outlive the leader.
const PG = process.env.FLOCK_TEST_POSTGRES_URL;
if (!PG && process.env.FLOCK_REQUIRE_POSTGRES === '1') throw new Error('FLOCK_REQUIRE_POSTGRES=1 but FLOCK_TEST_POSTGRES_URL is not set');
const skip = !PG ? 'FLOCK_TEST_POSTGRES_URL is not set' : !fleetBinaries() ? 'redis-server missing' : undefined;
const dpArgs = async (): Promise<string[]> => ['--public-metrics', '--dp', 'distributed', '--noise-multiplier', String(SIGMA), '--clip', String(C), '--postgres', (await freshSchema(PG!, cleanups)).url];

// Distributed DP over grouped SecAgg+ (issue #15): every client's noise share is calibrated to
// the whole cohort's guaranteed survivors (all nodes' groups), not to its own group's t, so the
// cohort sum carries the configured sigma * sensitivity, and the leader accounts for the cohort.
describe.skipIf(skip !== undefined)(`distributed DP across fleet nodes (grouped SecAgg+)${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('each client is told, and adds, a noise share calibrated to the whole cohort: the committed sum carries sigma * Delta2 * sqrt(S / T), not the group-calibrated noise', async () => {
    const { redis, nodes } = await secureFleet(cleanups, 6, false, await dpArgs());
    track({ nodes } as never);
    const { clients, deltas, home } = await clientsOn(cleanups, nodes, [3, 3]);
    const starts = new Map<string, RoundStart>();
    clients.forEach((c) => c.on('round:start', (s: RoundStart) => starts.set(c.clientId, s)));
    const g0 = await weights(nodes[0]!.url, 0);
    const { leader, line } = await Promise.any(nodes.map((n) => n.proc.waitFor((l) => l.event === 'round', 240_000).then((l) => ({ leader: n, line: l }))));
    expect(line).toMatchObject({ status: 'committed', modelVersion: 1, reporters: 6 });
    await until(() => deltas.size === 6 && starts.size === 6, 30_000, 'six updates');

    // What each client was told: its group's t, and the whole cohort's summands T = t1 + t2.
    const tGroup = secAggParameters({ cohortSize: 3 }).t;
    const T = 2 * tGroup;
    const d = g0.length;
    const plan = planDpQuantization({ clip: C, dimension: d, cohort: 6, minSurvivors: T, noiseMultiplier: SIGMA, distributed: true });
    for (const [id, s] of starts) {
      const cfg = s.secagg!;
      expect(cfg.nMax, id).toBe(3); // SecAgg+ ran over the group of 3 ...
      expect(cfg.t).toBe(tGroup);
      expect(cfg.dp).toEqual({ clip: C, scale: plan.scale, bound: plan.bound, summands: T }); // ... the noise over the cohort of 6
      expect(noiseSummands(cfg)).toBe(T);
    }

    // The released mean: (Σ xᵢ + noise) / (q · population) = (Σ xᵢ + noise) / 6. Its noise, in
    // model units, has stddev sigma · sensitivity · sqrt(S / T) / 6 with S = 6 survivors, each
    // adding sigma · Delta2 / sqrt(T) lattice units. Calibrated to the group's t instead it would
    // be sqrt(T / t) = sqrt(2) times larger (and each group sum on its own carries only
    // sqrt(g / n) of the cohort's noise: docs/explanation/fleet.md).
    const w1 = await weights(leader.url, 1);
    let sq = 0;
    for (let i = 0; i < d; i++) {
      let sum = 0;
      for (const id of home.keys()) sum += deltas.get(id)!.delta[i]!;
      const r = (w1[i]! - g0[i]!) * 6 - sum;
      sq += r * r;
    }
    const measured = Math.sqrt(sq / d) / 6;
    const wholeCalibrated = (SIGMA * plan.sensitivity * Math.sqrt(6 / T)) / 6;
    const groupCalibrated = (SIGMA * plan.sensitivity * Math.sqrt(6 / tGroup)) / 6;
    expect(measured / wholeCalibrated).toBeGreaterThan(0.97);
    expect(measured / wholeCalibrated).toBeLessThan(1.03);
    expect(measured / groupCalibrated).toBeLessThan(0.8);

    // Every node shows the fleet's epsilon on /metrics: the follower loads the committed
    // accountant with the version (it never accounts itself).
    const epsilonOn = async (url: string): Promise<number | undefined> => {
      const m = /^flock_dp_epsilon_spent ([0-9.e+-]+)$/m.exec(await (await fetch(`${url}/metrics`)).text());
      return m ? Number(m[1]) : undefined;
    };
    const leaderEpsilon = await epsilonOn(leader.url);
    expect(leaderEpsilon).toBeGreaterThan(0);
    const follower = nodes.find((n) => n !== leader)!;
    await until(async () => (await epsilonOn(follower.url)) === leaderEpsilon, 15_000, "the follower's epsilon");

    // Only group sums crossed Redis.
    for (const p of (await partialsInRedis(redis)).filter((x) => x.sum)) expect(p.reporters.length).toBeGreaterThanOrEqual(MIN_GROUP);
    expect(fleetLines(leader.proc, 'partial').filter((m) => m.verdict === 'merged')).toHaveLength(1);
  });

  it('the accountant outlives the leader: after kill -9 of the leader, the new leader goes on from the committed accountant, and every receipt of version 2 carries the epsilon of two rounds, not one', async () => {
    // n2 leads; all six clients sit on the follower n1 (its group runs both rounds).
    const { nodes } = await secureFleet(cleanups, 6, true, [...(await dpArgs()), '--rounds', '2']);
    track({ nodes } as never);
    const [n1, n2] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const receipts = new Map<number, number[]>();
    let killed = false;
    const { clients } = await clientsOn(cleanups, nodes, [6, 0]);
    for (const c of clients) {
      c.on('receipt', (r: { receipt: { epsilonSpent: number; modelVersion: number } }) => {
        const v = r.receipt.modelVersion;
        receipts.set(v, [...(receipts.get(v) ?? []), r.receipt.epsilonSpent]);
        // The leader dies right after publishing version 1 (before or while it starts round 2).
        if (v === 1 && !killed) {
          killed = true;
          void n2.kill();
        }
      });
    }
    await until(() => (receipts.get(2)?.length ?? 0) === 6, 240_000, 'six receipts for version 2');
    expect(killed).toBe(true);
    // Version 2 was committed by n1, the node that took the lease after the kill.
    // (Its round line follows the round:end that carried the receipts.)
    await n1.proc.waitFor((l) => l.event === 'round' && l.status === 'committed' && l.modelVersion === 2, 30_000);

    // Every client of a version got the same epsilon. The accountant's noise multiplier for these
    // rounds (the plan's, inflated for rounding) is the sigma whose one-round epsilon (q = 1, the
    // distributed mode's general subsampling bound) is version 1's: found by bisection, then
    // composed over two rounds.
    const [e1] = new Set(receipts.get(1));
    expect(new Set(receipts.get(1)).size).toBe(1);
    expect(new Set(receipts.get(2)).size).toBe(1);
    const eps = (sigma: number, steps: number): number => new RdpAccountant().compose(1, sigma, steps, 'general').epsilon(1e-5).epsilon;
    let lo = SIGMA / 2;
    let hi = SIGMA * 2;
    for (let k = 0; k < 60; k++) {
      const mid = (lo + hi) / 2;
      if (eps(mid, 1) > e1!) lo = mid;
      else hi = mid;
    }
    const sigma = (lo + hi) / 2;
    expect(sigma).toBeGreaterThanOrEqual(SIGMA * 0.99); // the accounted sigma is the configured one, up to the rounding inflation
    // A new leader accounting from its own empty accountant would report version 1's epsilon again.
    const [e2] = new Set(receipts.get(2));
    expect(e2!).toBeCloseTo(eps(sigma, 2), 6);
    expect(e2!).toBeGreaterThan(e1! * 1.2);
  });
});
