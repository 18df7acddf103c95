import { EVENTS, FlockError, type RoundStart } from '@flock/protocol';
import { planDpQuantization, secAggParameters } from '@flock/privacy';
import { nodePlatform } from '@flock/privacy/node';
import type { SecureAggregationSettings, SecureCollectorOptions, WholeCohort } from '../secure-collector.js';
import type { Logger } from '../logger.js';
import type { CoordinatorSettings } from '../options.js';
import type { Clock } from '../round/clock.js';
import type { RoundMachine } from '../round/machine.js';
import type { CohortPrivacy, PartialSumAggregator } from './partial-sum.js';
import { GROUP_TOO_SMALL, SecureGroup, noContribution, type GroupContribution } from './secagg-group.js';

/** What a node needs to run SecAgg+ over its group (fleet/member.ts hands it over). */
export interface GroupContext {
  settings: CoordinatorSettings;
  numParams: number;
  clock: Clock;
  minGroupSize: number;
  /** The node's SecAgg session (coordinator.ts: a new value per run). */
  session: string;
  trustIdentity?: ((clientId: string, identityKey: Uint8Array) => boolean) | undefined;
  /** Whether a client has a live session on this node. */
  connected(clientId: string): boolean;
  /** Sends one message to this node's clients. */
  send(ids: readonly string[], event: string, msg: unknown): void;
}

/** Whether a round of this kind runs grouped SecAgg+ under these settings. */
export function groupedSecure(settings: CoordinatorSettings, kind: string): boolean {
  return kind === 'train' && settings.secureAggregation.enabled;
}

/**
 * Leader: splits the round's groups (node id -> its members) into those that may run SecAgg+
 * (at least `minGroupSize` members) and those that may not. A group too small never hears of
 * the round: its members are settled as GROUP_TOO_SMALL rather than summed in a small group.
 */
export function splitGroups(groups: ReadonlyMap<string, readonly string[]>, minGroupSize: number): { kept: Map<string, string[]>; refused: string[] } {
  const kept = new Map<string, string[]>();
  const refused: string[] = [];
  for (const [node, members] of groups) {
    if (members.length >= minGroupSize) kept.set(node, [...members]);
    else refused.push(...members);
  }
  return { kept, refused };
}

/**
 * Leader: the whole cohort the DP quantization and the distributed noise are planned for: the
 * members of every group that runs (the most summands, for the overflow bound) and the sum of
 * the groups' SecAgg thresholds (every group that unmasks has at least its t survivors). A
 * group no parameters exist for is left out (it cannot run).
 */
export function wholeCohort(groupSizes: readonly number[], settings: SecureAggregationSettings): WholeCohort {
  let cohort = 0;
  let summands = 0;
  for (const n of groupSizes) {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`groupSizes: expected integers >= 0; got ${n}`);
    try {
      const p = secAggParameters({
        cohortSize: n,
        ...(settings.k ? { k: settings.k } : {}),
        ...(settings.t ? { t: settings.t } : {}),
        ...(settings.dropoutRate !== undefined ? { dropoutRate: settings.dropoutRate } : {}),
        ...(settings.corruptionRate !== undefined ? { corruptionRate: settings.corruptionRate } : {}),
      });
      cohort += n;
      summands += p.t;
    } catch (err) {
      if (!(err instanceof RangeError)) throw err;
    }
  }
  return { cohort, summands };
}

/** The collector's DP options for a round (central or distributed mode), planned for `whole`. */
export function groupDp(start: RoundStart, whole: WholeCohort | undefined): SecureCollectorOptions['dp'] {
  const p = start.config.privacy;
  if (!p || p.mode === 'local') return undefined;
  return { mode: p.mode, clip: p.clip, noiseMultiplier: p.noiseMultiplier ?? 0, ...(whole ? { whole } : {}) };
}

/**
 * Leader: what the merged sum of the groups is released with under DP: the sensitivity and
 * accounted noise multiplier of the whole cohort's plan (the one every group quantizes with),
 * and in distributed mode the survivors the clients' noise shares were calibrated to.
 */
export function cohortPrivacy(start: RoundStart, whole: WholeCohort, numParams: number): CohortPrivacy | undefined {
  const dp = groupDp(start, whole);
  if (!dp) return undefined;
  const plan = planDpQuantization({ clip: dp.clip, dimension: numParams, cohort: whole.cohort, minSurvivors: whole.summands, noiseMultiplier: dp.noiseMultiplier, distributed: dp.mode === 'distributed' });
  return { sensitivity: plan.sensitivity, accountedNoiseMultiplier: plan.accountedNoiseMultiplier, minCount: dp.mode === 'distributed' ? whole.summands : 0 };
}

/**
 * The time a group's masked-input stage may last: the round's deadline less the time left for
 * unmasking (one stage) and the margin a follower keeps to ship its partial before the leader's
 * deadline. Never before now + one stage (SecureCollector's own floor).
 */
export function maskedDeadline(deadline: number, stageTimeoutMs: number, margin: number): number {
  return deadline - margin - stageTimeoutMs;
}

/**
 * Starts SecAgg+ over `members` (this node's group of round `start`) and makes `r` route the
 * group's secagg:* messages to it. Resolves with the group's contribution (its unmasked sum,
 * or none and every member rejected). Returns the round:start the members must get (with the
 * group's `secagg` block), or undefined when the group cannot run (too small, no parameters):
 * then nobody of it hears of the round and `done` resolves at once.
 */
export function startGroup(
  ctx: GroupContext,
  r: RoundMachine,
  start: RoundStart,
  members: readonly string[],
  margin: number,
  whole?: WholeCohort,
): { start: RoundStart | undefined; done: Promise<GroupContribution> } {
  if (members.length < ctx.minGroupSize) return { start: undefined, done: Promise.resolve(noContribution(members, GROUP_TOO_SMALL)) };
  let group: SecureGroup;
  try {
    group = new SecureGroup({
      session: ctx.session,
      round: start.round,
      members,
      numParams: ctx.numParams,
      settings: ctx.settings.secureAggregation,
      minGroupSize: ctx.minGroupSize,
      platform: nodePlatform,
      clock: ctx.clock,
      send: (id, event, payload) => ctx.send([id], event, payload),
      trustIdentity: ctx.trustIdentity,
      presence: { connected: (id) => ctx.connected(id), graceMs: ctx.settings.reconnectGraceMs },
      dp: groupDp(start, whole),
    });
  } catch (err) {
    const e = err instanceof FlockError ? err : new FlockError('SECAGG_UNAVAILABLE', (err as Error).message);
    return { start: undefined, done: Promise.resolve(noContribution(members, e.code, e)) };
  }
  r.secure = group.secure;
  const groupStart: RoundStart = { ...start, secagg: group.config };
  r.start = groupStart;
  // The round ended (deadline, shutdown) before the group finished: stop waiting for stages.
  void r.finished.then(() => group.cancel());
  const done = group.run(maskedDeadline(start.deadline, ctx.settings.secureAggregation.stageTimeoutMs, margin));
  return { start: groupStart, done };
}

/** Leader: adds its own group's contribution to the round (as a plain partial); false if the round moved on. */
export function mergeGroup(r: RoundMachine, c: Pick<GroupContribution, 'reporters' | 'rejected' | 'numExamples' | 'sum' | 'weightTotal' | 'count'> & { metrics?: Record<string, { sum: number; weight: number }> }, privacy: CohortPrivacy | undefined): boolean {
  if (!r.collecting) return false;
  return r.mergePartial({ reporters: c.reporters, rejected: c.rejected, numExamples: c.numExamples, metrics: c.metrics ?? {} }, (agg) => {
    if (privacy) (agg as PartialSumAggregator).calibrate(privacy);
    if (c.sum) (agg as PartialSumAggregator).addPartial(c.sum, c.weightTotal, c.count);
  });
}

/**
 * Leader, at a secure round's start: splits the cohort into groups (its own `mine`, the
 * followers' `byNode`), plans DP for the whole cohort, settles the members of groups below
 * minGroupSize (GROUP_TOO_SMALL) in `r`, and runs its own group (its sum merged into `r` when
 * unmasked). Returns the groups that take part (the plans to send), the whole cohort and what
 * the merged sum is released with. No DP plan for the cohort (DP_UNAVAILABLE): every member is
 * rejected with that code and no group takes part.
 */
export function leadGroupedRound(o: {
  ctx: GroupContext;
  r: RoundMachine | undefined;
  start: RoundStart;
  mine: string[];
  byNode: ReadonlyMap<string, readonly string[]>;
  margin: number;
  logger: Logger;
}): { kept: Map<string, string[]>; whole: WholeCohort; privacy: CohortPrivacy | undefined } {
  const { ctx, r, start, mine, logger } = o;
  const { kept, refused } = splitGroups(o.byNode, ctx.minGroupSize);
  // DP: every group quantizes, and every client calibrates its noise share, for the whole cohort.
  const whole = wholeCohort([...kept.values(), ...(mine.length >= ctx.minGroupSize ? [mine] : [])].map((g) => g.length), ctx.settings.secureAggregation);
  let privacy: CohortPrivacy | undefined;
  try {
    privacy = whole.cohort > 0 ? cohortPrivacy(start, whole, ctx.numParams) : undefined;
  } catch (err) {
    logger.warn({ roundId: start.roundId, err: (err as Error).message }, 'fleet: no DP plan for this secure round; nobody hears of it');
    const code = err instanceof FlockError ? err.code : 'DP_UNAVAILABLE';
    r?.mergePartial({ reporters: [], rejected: [...mine, ...[...o.byNode.values()].flat()].map((clientId) => ({ clientId, code })), numExamples: 0, metrics: {} });
    return { kept: new Map(), whole, privacy: undefined };
  }
  if (!r || r.roundId !== start.roundId) return { kept, whole, privacy };
  const own = startGroup(ctx, r, start, mine, o.margin, whole);
  if (own.start) ctx.send(mine, EVENTS.roundStart, own.start);
  void own.done.then((c) => {
    if (!mergeGroup(r, c, privacy)) logger.warn({ roundId: start.roundId }, 'fleet: own secure group ended after its round');
    if (c.error) logger.warn({ roundId: start.roundId, err: c.error.message, code: c.error.code }, 'fleet: own secure group added no sum');
  });
  if (refused.length) {
    r.mergePartial({ reporters: [], rejected: refused.map((clientId) => ({ clientId, code: GROUP_TOO_SMALL })), numExamples: 0, metrics: {} });
    logger.warn({ roundId: start.roundId, members: refused.length, minGroupSize: ctx.minGroupSize }, 'fleet: groups below minGroupSize do not take part in this secure round');
  }
  return { kept, whole, privacy };
}
