import type { TrainConfig } from '@flock/protocol';
import type { PrivacyReceipt } from '@flock/privacy';
import { WeightedMeanAggregator, type AggregateResult, type UpdateAggregator } from './aggregator.js';

/** What a strategy sees when it configures a round. */
export interface FitContext {
  round: number;
  modelVersion: number;
  /** The federation's default client training settings. */
  config: TrainConfig;
  /**
   * Clients eligible for selection when the round started (connected, within budget): with the
   * sampling rate it gives the expected cohort size, a public denominator (adaptive clipping).
   */
  population?: number;
  /** Clients whose updates went into the aggregate (set for aggregateFit). */
  reporters?: readonly string[];
}

/** The coordinator settings a strategy may check at start-up (see Strategy.checkSettings). */
export interface StrategySettings {
  sampling: 'fixed' | 'poisson';
  fraction: number;
  secureAggregation: { enabled: boolean };
  evaluateEvery: number;
}

/**
 * A federated learning strategy, split as in Flower: `configureFit` says what clients do in a
 * round; `aggregateFit` turns the aggregate into the next global model. Privacy (secure
 * aggregation, differential privacy) wraps a strategy rather than editing it: it only ever
 * hands the strategy the aggregate, never individual updates.
 */
export interface Strategy {
  readonly name: string;
  /**
   * Optional: rounds are confidential (confidential.ts). Public endpoints and round messages
   * then name and count no cohort and carry no client statistics (loss, accuracy, examples);
   * the operator reads them through the admin API. DifferentiallyPrivate sets it: its epsilon
   * assumes secret cohorts and no un-noised release.
   */
  readonly confidentialRounds?: boolean;
  configureFit(ctx: FitContext): TrainConfig;
  /** A fresh aggregator for a round's updates. */
  createAggregator(numParams: number): UpdateAggregator;
  /** The next global weights from the current ones and the round's aggregate. */
  aggregateFit(global: Float32Array, aggregate: AggregateResult, ctx: FitContext): Float32Array;
  /** Optional figures merged into each committed model's metrics (e.g. epsilon spent). */
  roundMetrics?(): Record<string, number>;
  /** Optional: the privacy figures of the last committed round, for signed receipts. */
  receiptFields?(): Pick<PrivacyReceipt, 'clip' | 'noiseMultiplier' | 'mode' | 'epsilonSpent' | 'delta'>;
  /**
   * Optional: throws a FlockError when the strategy cannot keep its promises under these
   * coordinator settings (a DP accountant's sampling rate against the real sampling). The
   * coordinator calls it once, at construction, before it opens anything.
   */
  checkSettings?(settings: StrategySettings): void;
  /** Optional: false keeps a client out of cohorts (e.g. its privacy budget is spent). */
  eligible?(clientId: string): boolean;
}

/** FedAvg (McMahan et al. 2017): the new model is the example-weighted mean of the clients' models. */
export class FedAvg implements Strategy {
  readonly name: string = 'fedavg';

  configureFit(ctx: FitContext): TrainConfig {
    return ctx.config;
  }

  createAggregator(numParams: number): UpdateAggregator {
    return new WeightedMeanAggregator(numParams);
  }

  aggregateFit(global: Float32Array, aggregate: AggregateResult): Float32Array {
    const next = new Float32Array(global.length);
    for (let i = 0; i < next.length; i++) next[i] = global[i]! + aggregate.meanDelta[i]!;
    return next;
  }
}
