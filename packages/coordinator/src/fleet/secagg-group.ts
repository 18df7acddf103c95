import { FlockError } from '@flock/protocol';
import type { PlatformCrypto } from '@flock/privacy';
import type { AggregateResult } from '../aggregator.js';
import type { Clock } from '../round/clock.js';
import { SecureCollector, type SecureAggregationSettings, type SecureCollectorOptions } from '../secure-collector.js';

/** Default smallest group a fleet node runs SecAgg+ with (docs/explanation/fleet.md). */
export const DEFAULT_MIN_GROUP_SIZE = 100;

/**
 * The code a member of a group below `minGroupSize` is settled with in the round's `rejected`
 * list (never sent as an error; docs/reference/errors.md "Not error codes").
 */
export const GROUP_TOO_SMALL = 'SECAGG_GROUP_TOO_SMALL';

/** Checks `minGroupSize`: an integer >= 3 (SecAgg+ needs 3 clients; a sum of 2 reveals each to the other). */
export function checkMinGroupSize(value: unknown): number {
  if (typeof value !== 'number') throw new TypeError(`minGroupSize must be a number; got ${typeof value}`);
  if (!Number.isInteger(value) || value < 3 || value > 2 ** 20) throw new RangeError(`minGroupSize must be an integer from 3 to 2^20; got ${value}`);
  return value;
}

/**
 * What one group adds to the leader's round, in the fields of a fleet partial: the survivors
 * as reporters, every other member rejected, and the unmasked GROUP sum (never an individual
 * update). `sum` is the float64 weighted sum Σ wᵢ·Δᵢ of the survivors, `weightTotal` Σ wᵢ.
 */
export interface GroupContribution {
  reporters: string[];
  rejected: Array<{ clientId: string; code: string }>;
  numExamples: number;
  weightTotal: number;
  count: number;
  sum: Float64Array | undefined;
  /** Why the group added no sum (SecAgg aborted or could not run), if it did not. */
  error?: FlockError | undefined;
}

/** Every member rejected with `code`: a group that did not run, or whose SecAgg aborted. */
export function noContribution(members: readonly string[], code: string, error?: FlockError): GroupContribution {
  return { reporters: [], rejected: members.map((clientId) => ({ clientId, code })), numExamples: 0, weightTotal: 0, count: 0, sum: undefined, ...(error ? { error } : {}) };
}

/** A SecureCollector that keeps the group's float64 weighted sum (not only the mean) for its partial. */
class GroupCollector extends SecureCollector {
  groupSum: Float64Array | undefined;
  groupWeight = 0;

  override decodeSum(sum: Uint32Array, count: number): AggregateResult {
    if (this.dpQuantizer) {
      const r = super.decodeSum(sum, count);
      this.groupSum = r.privacy!.sum instanceof Float64Array ? r.privacy!.sum : Float64Array.from(r.privacy!.sum);
      this.groupWeight = count;
      return r;
    }
    const d = this.encoder.decode(sum);
    this.groupSum = d.weightedSum;
    this.groupWeight = d.totalWeight;
    // The mean is not used: the leader divides the merged sum by the merged weight.
    return { meanDelta: new Float32Array(0), totalWeight: d.totalWeight, count };
  }
}

export interface SecureGroupOptions {
  /** The node's SecAgg session (a fresh value per coordinator run: each group's messages are bound to its node). */
  session: string;
  round: number;
  /** The clients this node was assigned for the round (its group). */
  members: readonly string[];
  numParams: number;
  settings: SecureAggregationSettings;
  minGroupSize: number;
  platform: PlatformCrypto;
  clock: Clock;
  send(clientId: string, event: string, payload: unknown): void;
  trustIdentity?: ((clientId: string, identityKey: Uint8Array) => boolean) | undefined;
  presence?: { connected(clientId: string): boolean; graceMs: number } | undefined;
  /** Central or distributed DP, planned for the whole cohort (`dp.whole`), not for this group. */
  dp?: SecureCollectorOptions['dp'];
}

/**
 * One node's SecAgg+ over its own group of a fleet round (docs/explanation/fleet.md, "Secure
 * aggregation across nodes"): the node runs the protocol with its group only, unmasks the
 * group sum, and hands it on as its contribution. A group smaller than `minGroupSize` is
 * refused at construction (FlockError SECAGG_UNAVAILABLE, details.reason GROUP_TOO_SMALL):
 * SecAgg never runs with it, so nobody ever sees a sum of fewer clients.
 */
export class SecureGroup {
  readonly members: readonly string[];
  private readonly collector: GroupCollector;

  constructor(o: SecureGroupOptions) {
    const min = checkMinGroupSize(o.minGroupSize);
    if (!Array.isArray(o.members)) throw new TypeError('members must be an array of client ids');
    if (o.members.length < min) {
      throw new FlockError('SECAGG_UNAVAILABLE', `this node's group of round ${o.round} has ${o.members.length} members; grouped secure aggregation needs at least minGroupSize = ${min}`, {
        reason: GROUP_TOO_SMALL,
        group: o.members.length,
        minGroupSize: min,
      });
    }
    this.members = [...o.members];
    this.collector = new GroupCollector({
      session: o.session,
      round: o.round,
      cohort: this.members,
      numParams: o.numParams,
      settings: o.settings,
      platform: o.platform,
      clock: o.clock,
      send: o.send,
      ...(o.trustIdentity ? { trustIdentity: o.trustIdentity } : {}),
      presence: o.presence,
      ...(o.dp ? { dp: o.dp } : {}),
    });
  }

  /** The `secagg` block of this group's round:start (nMax, k and t for the group). */
  get config(): SecureCollector['config'] {
    return this.collector.config;
  }

  /** The collector the node's sessions route this group's secagg:* messages to (RoundMachine.secure). */
  get secure(): SecureCollector {
    return this.collector;
  }

  /**
   * Runs the stages (`maskedDeadline` bounds the masked-input stage, which includes local
   * training) and resolves with the group's contribution; never rejects: an aborted group
   * contributes no sum and rejects its members with the abort's code.
   */
  async run(maskedDeadline: number): Promise<GroupContribution> {
    try {
      const r = await this.collector.run(maskedDeadline);
      const sum = this.collector.groupSum;
      if (!sum) throw new FlockError('INTERNAL', 'secure aggregation returned no group sum');
      const survivors = new Set(r.survivors);
      return {
        reporters: [...r.survivors],
        rejected: this.members.filter((id) => !survivors.has(id)).map((clientId) => ({ clientId, code: 'NO_REPORT' })),
        numExamples: this.collector.groupWeight,
        weightTotal: this.collector.groupWeight,
        count: r.survivors.length,
        sum,
      };
    } catch (err) {
      const e = err instanceof FlockError ? err : new FlockError('SECAGG_ABORTED', (err as Error).message);
      return noContribution(this.members, e.code, e);
    }
  }

  /** Ends the stage waiting early (the round ended, shutdown): run() then resolves without a sum. */
  cancel(): void {
    this.collector.cancel();
  }
}
