import type { ErrorEnvelope } from '@flock/protocol';

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
