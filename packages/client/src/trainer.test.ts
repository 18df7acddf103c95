import type { RoundStart } from '@flock/protocol';
import { describe, expect, it } from 'vitest';
import { shuffleSeed } from './trainer.js';

const start: RoundStart = {
  roundId: '2-aaaaaaaaaaaa',
  round: 2,
  kind: 'train',
  modelVersion: 1,
  modelHash: 'ab'.repeat(32),
  modelPath: '/v1/models/1',
  deadline: 1_000_000,
  timeoutMs: 30_000,
  config: { epochs: 1, batchSize: 16, learningRate: 0.1 },
};

describe('shuffleSeed (seeded clients)', () => {
  it('depends on the version trained and the epoch, not on the round number, id or deadline (a re-run round shuffles the same)', () => {
    // The same version re-run after a crash or a fleet failover: new round number, id and deadline.
    const rerun: RoundStart = { ...start, roundId: '3-bbbbbbbbbbbb', round: 3, deadline: 2_000_000, timeoutMs: 20_000 };
    expect(shuffleSeed(7, rerun, 0)).toBe(shuffleSeed(7, start, 0));
    expect(shuffleSeed(7, rerun, 1)).toBe(shuffleSeed(7, start, 1));
    expect(shuffleSeed(7, start, 1)).not.toBe(shuffleSeed(7, start, 0));
    expect(shuffleSeed(7, { ...start, modelVersion: 2 }, 0)).not.toBe(shuffleSeed(7, start, 0));
    expect(shuffleSeed(8, start, 0)).not.toBe(shuffleSeed(7, start, 0));
    // Unseeded clients shuffle from crypto randomness.
    expect(shuffleSeed(undefined, start, 0)).toBeUndefined();
  });
});
