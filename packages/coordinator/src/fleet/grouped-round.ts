import { FlockError, type RoundStart } from '@flock/protocol';
import { nodePlatform } from '@flock/privacy/node';
import type { CoordinatorSettings } from '../options.js';
import type { Clock } from '../round/clock.js';
import type { RoundMachine } from '../round/machine.js';
import type { PartialSumAggregator } from './partial-sum.js';
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
export function mergeGroup(r: RoundMachine, c: GroupContribution): boolean {
  if (!r.collecting) return false;
  return r.mergePartial({ reporters: c.reporters, rejected: c.rejected, numExamples: c.numExamples, metrics: {} }, (agg) => {
    if (c.sum) (agg as PartialSumAggregator).addPartial(c.sum, c.weightTotal, c.count);
  });
}
