import { ERROR_CODES, type ErrorEnvelope } from '@flock/protocol';

// What a coordinator publishes when its strategy keeps rounds confidential
// (Strategy.confidentialRounds; DifferentiallyPrivate sets it). Differential privacy's epsilon
// counts on amplification by sampling, which holds only if nobody but the operator can tell
// which clients were in a round's cohort (nor how many: with the others' participation known,
// a count gives a target's away), and on releasing no un-noised client statistic. So the
// public endpoints and the round messages keep only what the round did to the model; the
// operator reads the full records through the authenticated admin API.

/** The public part of a round summary (GET /v1/rounds under confidential rounds). */
export interface PublicRoundSummary {
  round: number;
  roundId: string;
  kind: 'train' | 'evaluate';
  status: 'committed' | 'abandoned' | 'completed';
  modelVersion: number;
  modelHash: string;
  reason?: ErrorEnvelope;
  startedAt: string;
  seconds: number;
}

/**
 * An error envelope without what it may say about the cohort (counts in `TOO_FEW_REPORTS`,
 * dropped clients in `SECAGG_ABORTED`...): the code and its generic text.
 */
export function publicReason(reason: ErrorEnvelope): ErrorEnvelope {
  return { code: reason.code, message: ERROR_CODES[reason.code] };
}

/** A round summary without its cohort, reporters, rejections, example count, metrics and traffic. */
export function publicRoundSummary(s: PublicRoundSummary & Record<string, unknown>): PublicRoundSummary {
  return {
    round: s.round,
    roundId: s.roundId,
    kind: s.kind,
    status: s.status,
    modelVersion: s.modelVersion,
    modelHash: s.modelHash,
    ...(s.reason ? { reason: publicReason(s.reason) } : {}),
    startedAt: s.startedAt,
    seconds: s.seconds,
  };
}

/** The coordinator status without the active round's selected and reported counts. */
export function publicStatus(status: Record<string, unknown>): Record<string, unknown> {
  const active = status.activeRound as { round?: unknown; kind?: unknown } | null | undefined;
  return { ...status, activeRound: active ? { round: active.round, kind: active.kind } : (active ?? null) };
}
