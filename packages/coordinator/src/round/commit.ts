import type { ErrorEnvelope, RoundEnd } from '@flock/protocol';
import { signReceipt, type IdentityKeyPair, type SignedReceipt } from '@flock/privacy';
import type { AggregateResult } from '../aggregator.js';
import type { ModelStore, ModelVersion } from '../model-store.js';
import type { Awaitable, FederationStore } from '../store/types.js';
import type { FitContext, Strategy } from '../strategy.js';
import type { RoundMachine } from './machine.js';
import { publicReason } from '../confidential.js';

/** What happened in one round; emitted as the `round` event and kept in the history. */
export interface RoundSummary {
  round: number;
  roundId: string;
  kind: 'train' | 'evaluate';
  status: 'committed' | 'abandoned' | 'completed';
  /** Model version after the round (unchanged if abandoned or evaluation). */
  modelVersion: number;
  modelHash: string;
  selected: string[];
  reporters: string[];
  rejected: Array<{ clientId: string; code: string }>;
  numExamples: number;
  metrics: Record<string, number>;
  /** Update payload bytes received during the round (accepted or not). */
  bytesUp: number;
  /** Model weight bytes served over HTTP during the round. */
  bytesDown: number;
  reason?: ErrorEnvelope;
  startedAt: string;
  seconds: number;
}

/** A finished round as a history entry. */
export function summarize(
  r: RoundMachine,
  o: { status: RoundSummary['status']; version: ModelVersion; reason: ErrorEnvelope | undefined; metrics: Record<string, number>; selected: string[]; startedAt: Date; endedAt: number; bytesUp: number; bytesDown: number },
): RoundSummary {
  return {
    round: r.round,
    roundId: r.roundId,
    kind: r.kind,
    status: o.status,
    modelVersion: o.version.version,
    modelHash: o.version.hash,
    selected: o.selected,
    reporters: [...r.reporters].sort(),
    rejected: r.rejected,
    numExamples: r.numExamples,
    metrics: o.metrics,
    bytesUp: o.bytesUp,
    bytesDown: o.bytesDown,
    ...(o.reason ? { reason: o.reason } : {}),
    startedAt: o.startedAt.toISOString(),
    seconds: (o.endedAt - o.startedAt.getTime()) / 1000,
  };
}

/**
 * Called with the next version before it is stored (fleet/commit.ts); throws a FlockError to
 * refuse the commit (the round is then abandoned with it). It may return a function called with
 * the version once it is stored (a fleet on a shared database announces it then; that function
 * must not throw).
 */
export type CommitFence = (next: { version: number; trained: number; round: number; weights: Float32Array; metrics: Record<string, number> }) => Promise<void | ((committed: ModelVersion) => Promise<void>)>;

/** Commits a training round's aggregate and signs its privacy receipt. */
export class RoundCommitter {
  constructor(
    private readonly d: {
      strategy: Strategy;
      store: ModelStore;
      database: FederationStore | undefined;
      signingKey: IdentityKeyPair;
      federationId: string;
    },
  ) {}

  /**
   * The strategy's next model from the round's aggregate, committed as a new version. With a
   * database: new model version, round row 'committed', strategy state and privacy ledger in
   * ONE transaction (a committed round is never lost nor applied twice).
   */
  async commit(
    model: ModelVersion,
    aggregate: AggregateResult,
    ctx: FitContext,
    r: { reporters: readonly string[]; numExamples: number },
    metrics: Record<string, number>,
    fence?: CommitFence,
  ): Promise<ModelVersion> {
    const { strategy, database, store } = this.d;
    const next = strategy.aggregateFit(model.weights, aggregate, { ...ctx, reporters: [...r.reporters].sort() });
    // Confidential rounds (DP, confidential.ts): only the strategy's accounted figures go public with the model.
    const versionMetrics = strategy.confidentialRounds ? { ...strategy.roundMetrics?.() } : { ...metrics, clients: r.reporters.length, examples: r.numExamples, ...strategy.roundMetrics?.() };
    // A fleet's leader (fleet/commit.ts) publishes the version first, fenced by its lease; a
    // refusal throws and nothing is stored here. On a shared PostgreSQL store the commit
    // transaction itself is fenced, and the version is announced after it (fleet/shared-store.ts).
    const stored = await fence?.({ version: model.version + 1, trained: model.version, round: ctx.round, weights: next, metrics: versionMetrics });
    const version = database
      ? await database.commitRound({ round: ctx.round, weights: next, modelMetrics: versionMetrics, roundMetrics: metrics, reporters: [...r.reporters].sort(), strategy })
      : store.commit(next, ctx.round, versionMetrics);
    if (stored) await stored(version);
    return version;
  }

  /**
   * The signed privacy receipt of a committed round, if the strategy issues one: bound to the
   * round (number and id) and to the model version and hash it committed; no cohort counts
   * (secret under DP).
   */
  receipt(s: Pick<RoundSummary, 'round' | 'roundId' | 'modelVersion' | 'modelHash'>, issuedAt: string): SignedReceipt | undefined {
    const fields = this.d.strategy.receiptFields?.();
    if (!fields) return undefined;
    const { round, roundId, modelVersion, modelHash } = s;
    return signReceipt({ federationId: this.d.federationId, round, roundId, modelVersion, modelHash, ...fields, issuedAt }, this.d.signingKey.secretKey);
  }
}

/**
 * The round:end message of a round (protocol/v1.md 5.7). Confidential rounds (7.8): no client
 * statistics, and the reason without details (they count or name cohort members).
 */
export function roundEndOf(s: RoundSummary, receipt: SignedReceipt | undefined, confidential = false): RoundEnd {
  return {
    roundId: s.roundId,
    round: s.round,
    kind: s.kind,
    status: s.status,
    modelVersion: s.modelVersion,
    modelHash: s.modelHash,
    ...(s.reason ? { reason: confidential ? publicReason(s.reason) : s.reason } : {}),
    metrics: confidential ? {} : s.metrics,
    ...(receipt ? { receipt } : {}),
  };
}
