import { describe, expect, it } from 'vitest';
import { noiseSummands } from '@flock/client';
import { planDpQuantization, secAggParameters } from '@flock/privacy';
import type { RoundStart } from '@flock/protocol';
import { clusterTestHooks, fleetLines } from './fleet-cluster.js';
import { fleetBinaries, until } from './fleet-redis.js';
import { MIN_GROUP, clientsOn, partialsInRedis, secureFleet, weights } from './fleet-secure.js';

const { cleanups, track } = clusterTestHooks();
const SIGMA = 0.5;
const C = 1;

// Distributed DP over grouped SecAgg+ (issue #15): every client's noise share is calibrated to
// the whole cohort's guaranteed survivors (all nodes' groups), not to its own group's t, so the
// cohort sum carries the configured sigma * sensitivity, and the leader accounts for the cohort.
describe.skipIf(!fleetBinaries())('distributed DP across fleet nodes (grouped SecAgg+)', () => {
  it('each client is told, and adds, a noise share calibrated to the whole cohort: the committed sum carries sigma * Delta2 * sqrt(S / T), not the group-calibrated noise', async () => {
    const { redis, nodes } = await secureFleet(cleanups, 6, false, ['--dp', 'distributed', '--noise-multiplier', String(SIGMA), '--clip', String(C)]);
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

    // Only group sums crossed Redis.
    for (const p of (await partialsInRedis(redis)).filter((x) => x.sum)) expect(p.reporters.length).toBeGreaterThanOrEqual(MIN_GROUP);
    expect(fleetLines(leader.proc, 'partial').filter((m) => m.verdict === 'merged')).toHaveLength(1);
  });
});
