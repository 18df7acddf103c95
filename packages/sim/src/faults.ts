import { createRng } from './rng.js';
import type { DropStage } from '@flock/client';

const STAGES: readonly DropStage[] = ['advertise-keys', 'share-keys', 'masked-input', 'unmask'];

/**
 * Seeded dropout plan: in each round, each client independently drops with probability
 * `rate`, at a stage drawn uniformly. Without secure aggregation only 'masked-input' (no
 * update sent) matters. Depends only on (seed, client, round): reproducible across workers.
 */
export function dropoutPlan(seed: number, clientIndex: number, rate: number, secure: boolean): (round: number) => DropStage | undefined {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`dropout rate must be in [0, 1]; got ${rate}`);
  return (round) => {
    if (rate === 0) return undefined;
    const rng = createRng(seed).fork('dropout').fork(clientIndex).fork(round);
    if (!rng.chance(rate)) return undefined;
    return secure ? STAGES[rng.below(STAGES.length)] : 'masked-input';
  };
}
