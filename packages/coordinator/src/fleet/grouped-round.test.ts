import { describe, expect, it } from 'vitest';
import { planDpQuantization, secAggParameters } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import { FlockError } from '@flock/protocol';
import { SecureCollector } from '../secure-collector.js';
import { DifferentiallyPrivate } from '../strategies/differential-privacy.js';
import { FedAvg } from '../strategy.js';
import { splitGroups, wholeCohort } from './grouped-round.js';
import { FleetMember } from './member.js';
import { PartialSumAggregator } from './partial-sum.js';
import { GROUP_TOO_SMALL, SecureGroup, checkMinGroupSize } from './secagg-group.js';
import { fleetStrategy } from './strategy.js';

const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const settings = { clip: 1, weightCap: 100, stageTimeoutMs: 1000 };

describe('minGroupSize', () => {
  it('is an integer >= 3; errors name the parameter', () => {
    expect(checkMinGroupSize(3)).toBe(3);
    expect(checkMinGroupSize(100)).toBe(100);
    expect(() => checkMinGroupSize('5')).toThrow(TypeError);
    for (const bad of [2, 0, -1, 3.5, NaN, 2 ** 21]) expect(() => checkMinGroupSize(bad)).toThrow(/minGroupSize/);
    expect(() => checkMinGroupSize(2)).toThrow(RangeError);
    // The member checks it before it opens any Redis connection.
    expect(() => new FleetMember({ redisUrl: 'redis://127.0.0.1:1', federationId: 'f', minGroupSize: 2 })).toThrow(/minGroupSize/);
  });
});

describe('splitGroups', () => {
  it('keeps groups of at least minGroupSize and refuses the members of the others', () => {
    const groups = new Map([
      ['a', ids('a', 5)],
      ['b', ids('b', 2)],
      ['c', ids('c', 3)],
    ]);
    const { kept, refused } = splitGroups(groups, 3);
    expect([...kept.keys()]).toEqual(['a', 'c']);
    expect(refused).toEqual(['b0', 'b1']);
    expect(splitGroups(groups, 6).kept.size).toBe(0);
  });
});

describe('SecureGroup', () => {
  it('never runs SecAgg+ with a group below minGroupSize: a typed refusal before any message', () => {
    const sent: string[] = [];
    const make = (n: number) =>
      new SecureGroup({ session: 's', round: 1, members: ids('c', n), numParams: 4, settings, minGroupSize: 5, platform: nodePlatform, clock: undefined as never, send: (id) => sent.push(id) });
    let err: unknown;
    try {
      make(4);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FlockError);
    expect(err).toMatchObject({ code: 'SECAGG_UNAVAILABLE', details: { reason: GROUP_TOO_SMALL, group: 4, minGroupSize: 5 } });
    expect(sent).toEqual([]);
    // At minGroupSize it runs, with SecAgg+ parameters for the group.
    const g = make(5);
    expect(g.config.nMax).toBe(5);
    expect(g.config.t).toBe(secAggParameters({ cohortSize: 5 }).t);
  });
});

describe('DP planned for the whole cohort', () => {
  it('wholeCohort adds up the groups and their SecAgg thresholds', () => {
    const t = (n: number): number => secAggParameters({ cohortSize: n }).t;
    expect(wholeCohort([100, 120], settings)).toEqual({ cohort: 220, summands: t(100) + t(120) });
    // A group no parameters exist for (below 3) cannot run and is left out.
    expect(wholeCohort([2, 10], settings)).toEqual({ cohort: 10, summands: t(10) });
    expect(() => wholeCohort([1.5], settings)).toThrow(RangeError);
  });

  it('a group collector announces the whole cohort\'s plan and summands, not its own', () => {
    const d = 1000;
    const whole = { cohort: 300, summands: 200 };
    const c = new SecureCollector({ session: 's', round: 1, cohort: ids('c', 100), numParams: d, settings, platform: nodePlatform, send: () => undefined, dp: { mode: 'distributed', clip: 1, noiseMultiplier: 1, whole } });
    const plan = planDpQuantization({ clip: 1, dimension: d, cohort: 300, minSurvivors: 200, noiseMultiplier: 1, distributed: true });
    expect(c.config.dp).toEqual({ clip: 1, scale: plan.scale, bound: plan.bound, summands: 200 });
    expect(c.config.nMax).toBe(100);
    // Without whole: its own cohort and t, and no summands on the wire.
    const flat = new SecureCollector({ session: 's', round: 1, cohort: ids('c', 100), numParams: d, settings, platform: nodePlatform, send: () => undefined, dp: { mode: 'distributed', clip: 1, noiseMultiplier: 1 } });
    expect(flat.config.dp!.summands).toBeUndefined();
    // A "whole" cohort smaller than the group is refused.
    expect(() => new SecureCollector({ session: 's', round: 1, cohort: ids('c', 100), numParams: d, settings, platform: nodePlatform, send: () => undefined, dp: { mode: 'distributed', clip: 1, noiseMultiplier: 1, whole: { cohort: 50, summands: 40 } } })).toThrow(RangeError);
  });

  it('the leader releases the merged group sums as one privacy aggregate, and refuses fewer summands than the noise was calibrated to', () => {
    const agg = new PartialSumAggregator(2);
    agg.calibrate({ sensitivity: 1.5, accountedNoiseMultiplier: 0.9, minCount: 5 });
    agg.addPartial(Float64Array.of(1, 2), 3, 3);
    expect(() => agg.result()).toThrow(expect.objectContaining({ code: 'DP_UNAVAILABLE', details: expect.objectContaining({ summands: 3, calibratedFor: 5 }) }));
    agg.addPartial(Float64Array.of(0.5, 0.25), 2, 2);
    const r = agg.result();
    expect([...r.privacy!.sum]).toEqual([1.5, 2.25]);
    expect(r.privacy).toMatchObject({ sensitivity: 1.5, accountedNoiseMultiplier: 0.9 });
    expect(r.count).toBe(5);
    expect(() => agg.calibrate({ sensitivity: 0, accountedNoiseMultiplier: 1, minCount: 1 })).toThrow(RangeError);
  });

  it('fleetStrategy takes DP in central or distributed mode (its accountant works through the wrapper), not local', () => {
    const dp = (mode: 'central' | 'local' | 'distributed') => new DifferentiallyPrivate(new FedAvg(), { mode, noiseMultiplier: 1, clip: 1, samplingRate: 1, delta: 1e-5 });
    expect(() => fleetStrategy(dp('local'))).toThrow(/central or distributed/);
    const s = fleetStrategy(dp('distributed')) as DifferentiallyPrivate;
    expect(s.createAggregator(3)).toBeInstanceOf(PartialSumAggregator);
    const agg = new PartialSumAggregator(3);
    agg.calibrate({ sensitivity: 1, accountedNoiseMultiplier: 1, minCount: 1 });
    agg.addPartial(Float64Array.of(0.1, 0.2, 0.3), 1, 1);
    s.aggregateFit(new Float32Array(3), agg.result(), { round: 1, modelVersion: 0, config: { epochs: 1, batchSize: 1, learningRate: 0.1 } as never, population: 1, reporters: ['c0'] });
    expect(s.epsilon()).toBeGreaterThan(0);
  });
});
